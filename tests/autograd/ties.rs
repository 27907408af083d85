//! How ties split gradients (documented in `src/autograd/vjp.rs`): `maximum`/`minimum`
//! give each of two equal operands half; `reduce_max`/`reduce_min` share equally between
//! all elements attaining the extreme.

use lazyjit::LazyTensor;

fn leaf(v: Vec<f32>, shape: &[usize]) -> LazyTensor {
    let t = LazyTensor::from_vec(v, shape).unwrap();
    t.set_requires_grad(true).unwrap();
    t
}

#[test]
fn maximum_and_minimum_halve_the_gradient_at_ties() {
    let _serial = crate::support::serial();
    for max in [true, false] {
        let a = leaf(vec![1.0, 2.0, 3.0], &[3]);
        let b = leaf(vec![1.0, 5.0, 0.0], &[3]);
        let y = if max { a.maximum(&b) } else { a.minimum(&b) }.unwrap();
        y.sum_all().unwrap().backward().unwrap();
        let (ga, gb) = (
            a.grad().unwrap().to_vec::<f32>().unwrap(),
            b.grad().unwrap().to_vec::<f32>().unwrap(),
        );
        if max {
            assert_eq!((ga, gb), (vec![0.5, 0.0, 1.0], vec![0.5, 1.0, 0.0]));
        } else {
            assert_eq!((ga, gb), (vec![0.5, 1.0, 0.0], vec![0.5, 0.0, 1.0]));
        }
    }
}

#[test]
fn reduce_max_and_min_share_between_all_extremes() {
    let _serial = crate::support::serial();
    let x = leaf(vec![3.0, 1.0, 3.0, 3.0, 2.0, 2.0, 0.0, -1.0], &[2, 4]);
    x.max(&[1], false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let third = 1.0 / 3.0;
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![third, 0.0, third, third, 0.5, 0.5, 0.0, 0.0]
    );
    let y = leaf(vec![3.0, 1.0, 1.0, 3.0], &[4]);
    y.min_all().unwrap().backward().unwrap();
    assert_eq!(
        y.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 0.5, 0.5, 0.0]
    );
}

#[test]
fn relu_and_abs_take_zero_at_zero() {
    let _serial = crate::support::serial();
    let x = leaf(vec![-1.0, 0.0, 2.0], &[3]);
    x.relu()
        .unwrap()
        .add(&x.abs().unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![-1.0, 0.0, 2.0]
    );
}
