//! Gradient checks of the elementwise ops, reductions, where, cast, indexing, matmul and
//! the composites built from them.

use super::gradcheck::{away_from_zero, both, check, check_with, distinct, uniform, Input, R};
use lazyjit::{DType, LazyTensor};

type Unary = fn(&LazyTensor) -> R;

#[test]
fn unary_ops() {
    let _serial = crate::support::serial();
    let s = [2, 3];
    let any = uniform(&s, -1.5, 1.5, 1);
    let pos = uniform(&s, 0.3, 2.0, 2);
    let nonzero = away_from_zero(&s, 0.2, 1.5, 3);
    // Piecewise-constant ops, checked where they are flat (not at a step).
    let between = Input {
        values: vec![0.3, -1.3, 2.6, -0.7, 1.2, -2.2],
        shape: s.to_vec(),
    };
    let cases: Vec<(&str, Unary, &Input)> = vec![
        ("neg", |x| x.neg(), &any),
        ("abs", |x| x.abs(), &nonzero),
        ("exp", |x| x.exp(), &any),
        ("log", |x| x.log(), &pos),
        ("sqrt", |x| x.sqrt(), &pos),
        ("rsqrt", |x| x.rsqrt(), &pos),
        ("reciprocal", |x| x.reciprocal(), &nonzero),
        ("tanh", |x| x.tanh(), &any),
        ("sigmoid", |x| x.sigmoid(), &any),
        ("relu", |x| x.relu(), &nonzero),
        ("erf", |x| x.erf(), &any),
        ("sin", |x| x.sin(), &any),
        ("cos", |x| x.cos(), &any),
        ("softplus", |x| x.softplus(), &any),
        ("floor", |x| x.floor(), &between),
        ("ceil", |x| x.ceil(), &between),
        ("round", |x| x.round(), &between),
        ("sign", |x| x.sign(), &nonzero),
    ];
    both(|| {
        for (name, f, x) in &cases {
            check(name, std::slice::from_ref(*x), |t| f(&t[0]));
        }
    });
}

type Binary = fn(&LazyTensor, &LazyTensor) -> R;

#[test]
fn binary_ops_with_broadcasting() {
    let _serial = crate::support::serial();
    let cases: Vec<(&str, Binary)> = vec![
        ("add", |a, b| a.add(b)),
        ("sub", |a, b| a.sub(b)),
        ("mul", |a, b| a.mul(b)),
        ("div", |a, b| a.div(b)),
        ("pow", |a, b| a.pow(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ];
    // Same shape, a trailing broadcast, size-1 axes on both sides, new leading axes.
    let shapes: [(&[usize], &[usize]); 4] = [
        (&[2, 3], &[2, 3]),
        (&[2, 3], &[3]),
        (&[2, 1], &[1, 3]),
        (&[4, 1, 3], &[2, 3]),
    ];
    both(|| {
        for (name, f) in &cases {
            for (k, (sa, sb)) in shapes.iter().enumerate() {
                // Positive operands keep pow's base in its domain and div away from 0;
                // distinct values keep maximum/minimum away from ties.
                let a = Input {
                    values: distinct(sa, 10 + k as u64)
                        .values
                        .iter()
                        .map(|v| 1.2 + v)
                        .collect(),
                    shape: sa.to_vec(),
                };
                let b = Input {
                    values: distinct(sb, 20 + k as u64)
                        .values
                        .iter()
                        .map(|v| 1.25 + v * 0.9)
                        .collect(),
                    shape: sb.to_vec(),
                };
                check(&format!("{name} {sa:?} {sb:?}"), &[a, b], |t| {
                    f(&t[0], &t[1])
                });
            }
        }
    });
}

#[test]
fn pow_with_a_zero_base_has_a_finite_exponent_gradient() {
    let _serial = crate::support::serial();
    let a = LazyTensor::from_vec(vec![0.0f64, 2.0], &[2]).unwrap();
    let b = LazyTensor::from_vec(vec![2.0f64, 3.0], &[2]).unwrap();
    a.set_requires_grad(true).unwrap();
    b.set_requires_grad(true).unwrap();
    a.pow(&b).unwrap().sum_all().unwrap().backward().unwrap();
    let db = b.grad().unwrap().to_vec::<f64>().unwrap();
    assert_eq!(db[0], 0.0, "0^b·ln 0 is taken as 0 for b >= 0");
    assert!((db[1] - 8.0 * 2f64.ln()).abs() < 1e-12);
    assert_eq!(a.grad().unwrap().to_vec::<f64>().unwrap(), vec![0.0, 12.0]);
}

#[test]
fn reductions_over_axes_with_and_without_keepdim() {
    let _serial = crate::support::serial();
    type Red = fn(&LazyTensor, &[isize], bool) -> R;
    let cases: Vec<(&str, Red)> = vec![
        ("sum", |x, a, k| x.sum(a, k)),
        ("mean", |x, a, k| x.mean(a, k)),
        ("max", |x, a, k| x.max(a, k)),
        ("min", |x, a, k| x.min(a, k)),
        ("prod", |x, a, k| x.prod(a, k)),
    ];
    let axes: [&[isize]; 5] = [&[0], &[1], &[-1], &[0, 2], &[0, 1, 2]];
    both(|| {
        for (name, f) in &cases {
            for (i, ax) in axes.iter().enumerate() {
                for keep in [false, true] {
                    let x = distinct(&[2, 3, 2], 30 + i as u64);
                    check(&format!("{name} {ax:?} keepdim {keep}"), &[x], |t| {
                        f(&t[0], ax, keep)
                    });
                }
            }
        }
    });
}

#[test]
fn prod_with_zeros_is_exact() {
    let _serial = crate::support::serial();
    // One zero in a row: only the zero gets a gradient (the product of the others); two
    // zeros: every gradient is zero. The finite differences agree (prod is a polynomial).
    let x = Input {
        values: vec![0.0, 2.0, 3.0, 0.0, 0.0, 5.0, 1.5, -2.0, 0.5],
        shape: vec![3, 3],
    };
    check("prod with zeros", std::slice::from_ref(&x), |t| {
        t[0].prod(&[1], false)
    });
    let t = LazyTensor::from_vec(x.values.clone(), &[3, 3]).unwrap();
    t.set_requires_grad(true).unwrap();
    t.prod(&[1], false)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        t.grad().unwrap().to_vec::<f64>().unwrap(),
        vec![6.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.75, -3.0]
    );
}

#[test]
fn where_and_cast() {
    let _serial = crate::support::serial();
    let cond = LazyTensor::from_vec(vec![true, false, true, true, false, false], &[2, 3]).unwrap();
    both(|| {
        check(
            "where",
            &[
                uniform(&[2, 3], -1.0, 1.0, 40),
                uniform(&[3], -1.0, 1.0, 41),
            ],
            |t| LazyTensor::where_(&cond, &t[0], &t[1]),
        );
        // f64 -> f32 -> f64 is linear; a larger step keeps the f32 rounding small.
        check_with("cast", &[uniform(&[4], -1.0, 1.0, 42)], 1e-2, &|t| {
            t[0].cast(DType::F32)?.mul_scalar(3.0)?.cast(DType::F64)
        });
    });
}

#[test]
fn gather_index_select_and_scatter_add() {
    let _serial = crate::support::serial();
    // Repeated indices accumulate.
    let gi = LazyTensor::from_vec(vec![2i64, 0, 2, 1, 1, 1], &[2, 3]).unwrap();
    let si = LazyTensor::from_vec(vec![0i32, 2, 0, 3], &[2, 2]).unwrap();
    let ui = LazyTensor::from_vec(vec![1i64, 0, 1], &[1, 3]).unwrap();
    both(|| {
        check("gather", &[uniform(&[2, 4], -1.0, 1.0, 50)], |t| {
            t[0].gather(1, &gi)
        });
        // One index per row along the axis: the select form of the gradient.
        let per_column = LazyTensor::from_vec(vec![2i64, 0, 1, 2], &[1, 4]).unwrap();
        check(
            "gather one per row",
            &[uniform(&[3, 4], -1.0, 1.0, 55)],
            |t| t[0].gather(0, &per_column),
        );
        check(
            "index_select axis 1, 2-d index",
            &[uniform(&[3, 4], -1.0, 1.0, 51)],
            |t| t[0].index_select(1, &si),
        );
        check(
            "index_select axis 0",
            &[uniform(&[4, 2], -1.0, 1.0, 52)],
            |t| t[0].index_select(0, &si),
        );
        // Updates larger than the index: only the covered part is used.
        check(
            "scatter_add",
            &[
                uniform(&[2, 3], -1.0, 1.0, 53),
                uniform(&[2, 4], -1.0, 1.0, 54),
            ],
            |t| t[0].scatter_add(0, &ui, &t[1]),
        );
    });
}

#[test]
fn matmul_plain_batched_and_broadcast() {
    let _serial = crate::support::serial();
    both(|| {
        check(
            "matmul 2-d",
            &[
                uniform(&[2, 3], -1.0, 1.0, 60),
                uniform(&[3, 4], -1.0, 1.0, 61),
            ],
            |t| t[0].matmul(&t[1]),
        );
        check(
            "matmul batched broadcast",
            &[
                uniform(&[2, 1, 3, 4], -1.0, 1.0, 62),
                uniform(&[5, 4, 2], -1.0, 1.0, 63),
            ],
            |t| t[0].matmul(&t[1]),
        );
        check(
            "linear",
            &[
                uniform(&[3, 4], -1.0, 1.0, 64),
                uniform(&[2, 4], -1.0, 1.0, 65),
                uniform(&[2], -1.0, 1.0, 66),
            ],
            |t| t[0].linear(&t[1], Some(&t[2])),
        );
    });
}

#[test]
fn composites_get_gradients_from_their_primitives() {
    let _serial = crate::support::serial();
    let labels = LazyTensor::from_vec(vec![2i64, 0, 1], &[3]).unwrap();
    let target = LazyTensor::from_vec(vec![0.5f64, -0.25, 1.0, 0.0, 2.0, -1.0], &[2, 3]).unwrap();
    let x = || uniform(&[3, 4], -2.0, 2.0, 70);
    both(|| {
        check("softmax", &[x()], |t| t[0].softmax(-1));
        check("log_softmax", &[x()], |t| t[0].log_softmax(1));
        check("logsumexp", &[x()], |t| t[0].logsumexp(&[1], false));
        check("var", &[x()], |t| t[0].var(&[1], true, 1));
        check("std", &[x()], |t| t[0].std(&[0], false, 0));
        check("gelu", &[x()], |t| t[0].gelu());
        check("silu", &[x()], |t| t[0].silu());
        check(
            "leaky_relu",
            &[away_from_zero(&[3, 4], 0.1, 2.0, 71)],
            |t| t[0].leaky_relu(0.1),
        );
        check("clamp", &[away_from_zero(&[3, 4], 0.1, 0.9, 72)], |t| {
            t[0].mul_scalar(2.0)?.clamp(-1.0, 1.0)
        });
        check("square", &[x()], |t| t[0].square());
        check("cross_entropy", &[x()], |t| {
            t[0].narrow(0, 0, 3)?.cross_entropy(&labels)
        });
        check("nll_loss", &[x()], |t| {
            t[0].log_softmax(1)?.nll_loss(&labels)
        });
        check("mse_loss", &[uniform(&[2, 3], -1.0, 1.0, 73)], |t| {
            t[0].mse_loss(&target)
        });
    });
}
