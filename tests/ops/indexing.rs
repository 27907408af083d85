//! Indexing with `i` and `get`: agreement with ndarray's slicing over random shapes and
//! indices (negative, inclusive, stepped, empty), the tuple and slice forms, errors, the
//! gradient through a selection, and a selection inside a compiled function.

use super::*;
use lazyjit::{Idx, IndexOp};
use ndarray::{SliceInfo, SliceInfoElem};

/// A small LCG: the test's own deterministic choices.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.below(2) == 1
    }
}

/// One random valid index of an axis of size `d`: what `i` gets (spelled with negative,
/// inclusive or open bounds at random) and what ndarray gets (resolved, non-negative).
fn random_idx(rng: &mut Lcg, d: usize) -> (Idx, SliceInfoElem) {
    let di = d as isize;
    if d > 0 && rng.below(3) == 0 {
        let r = rng.below(d) as isize;
        let spelled = if rng.coin() { r - di } else { r };
        return (Idx::from(spelled), SliceInfoElem::Index(r));
    }
    let s = rng.below(d + 1);
    let e = s + rng.below(d - s + 1);
    let step = 1 + rng.below(3);
    let (s, e) = (s as isize, e as isize);
    // The start: absolute, from the end, or omitted when it is 0.
    let start = match rng.below(3) {
        0 if s < di => Some(s - di),
        1 if s == 0 => None,
        _ => Some(s),
    };
    let idx = match (start, rng.below(4)) {
        (Some(a), 0) => Idx::from(a..e),
        (Some(a), 1) if e < di => Idx::from(a..e - di),
        (Some(a), 2) if e == di => Idx::from(a..),
        (Some(a), 3) if e >= 1 => Idx::from(a..=e - 1 - if rng.coin() { di } else { 0 }),
        (Some(a), _) => Idx::from(a..e),
        (None, 0) if e == di => Idx::from(..),
        (None, 1) if e >= 1 => Idx::from(..=e - 1),
        (None, _) => Idx::from(..e),
    };
    let idx = if step == 1 && rng.coin() {
        idx
    } else {
        idx.step_by(step)
    };
    let elem = SliceInfoElem::Slice {
        start: s,
        end: Some(e),
        step: step as isize,
    };
    (idx, elem)
}

#[test]
fn i_matches_ndarray_slicing() {
    let mut rng = Lcg(7);
    for case in 0..300 {
        let rank = 1 + rng.below(4);
        let shape: Vec<usize> = (0..rank).map(|_| rng.below(5)).collect();
        let n: usize = shape.iter().product();
        let vals: Vec<i64> = (0..n as i64).collect();
        let a = ArrayD::from_shape_vec(IxDyn(&shape), vals.clone()).unwrap();
        let t = i64t(vals, &shape);
        let used = rng.below(rank + 1);
        let (idx, mut elems): (Vec<Idx>, Vec<SliceInfoElem>) = shape[..used]
            .iter()
            .map(|&d| random_idx(&mut rng, d))
            .unzip();
        // ndarray wants every axis; `i` keeps the ones after the last index whole.
        elems.extend((used..rank).map(|_| SliceInfoElem::from(..)));
        let info = SliceInfo::<_, IxDyn, IxDyn>::try_from(elems).unwrap();
        let want = a.slice(info);
        let got = t
            .i(idx.clone())
            .unwrap_or_else(|e| panic!("case {case}: {idx:?} on {shape:?}: {e}"));
        assert_eq!(
            got.shape(),
            want.shape(),
            "case {case}: {idx:?} on {shape:?}"
        );
        assert_eq!(
            got.to_vec::<i64>().unwrap(),
            want.iter().copied().collect::<Vec<_>>(),
            "case {case}: {idx:?} on {shape:?}"
        );
    }
}

#[test]
fn tuple_forms_and_negative_indices() {
    both(|| {
        let t = LazyTensor::arange(0i32, 24, 1)
            .unwrap()
            .reshape((2, 3, 4))
            .unwrap();
        let v = |r: R| r.unwrap().to_vec::<i32>().unwrap();
        assert_eq!(v(t.i((1, 2))), vec![20, 21, 22, 23]);
        assert_eq!(v(t.i((-1, -1))), vec![20, 21, 22, 23]);
        assert_eq!(v(t.i((.., .., -1))), vec![3, 7, 11, 15, 19, 23]);
        assert_eq!(v(t.i((0, -2.., ..=1))), vec![4, 5, 8, 9]);
        assert_eq!(v(t.i((1usize, 0u32, 3i64))), vec![15]);
        assert_eq!(t.i((1, 0, 3)).unwrap().shape(), &[] as &[usize]);
        assert_eq!(v(t.i((0, 0, Idx::from(1..).step_by(2)))), vec![1, 3]);
        // A stepped integer index keeps its axis.
        assert_eq!(t.i((0, Idx::from(-1).step_by(5))).unwrap().shape(), &[1, 4]);
        // The single form selects on the first axis; a slice of Idx on as many as it has.
        assert_eq!(t.i(-1).unwrap().shape(), &[3, 4]);
        let dynamic = [Idx::full(), Idx::from(1)];
        assert_eq!(t.i(&dynamic[..]).unwrap().shape(), &[2, 4]);
        // Selecting everything is the tensor itself (no op recorded).
        assert_eq!(t.i(..).unwrap().id(), t.id());
        // get: one element, one index per axis.
        assert_eq!(t.get(&[1, -2, 0]).unwrap().item::<i32>().unwrap(), 16);
        let (i, j, k) = (0usize, 2usize, 3usize);
        assert_eq!(t.get(&[i, j, k]).unwrap().item::<i32>().unwrap(), 11);
    });
}

#[test]
fn empty_selections() {
    let t = f32t(data(6, 3), &[2, 3]);
    assert_eq!(t.i((.., 2..2)).unwrap().shape(), &[2, 0]);
    assert_eq!(
        t.i((.., -1..-1)).unwrap().to_vec::<f32>().unwrap(),
        Vec::<f32>::new()
    );
    assert_eq!(t.i(2..).unwrap().shape(), &[0, 3]);
    // A reversed inclusive range is empty, as in Rust (`1..=0`).
    let (one, zero) = (1, 0);
    assert_eq!(t.i((1, one..=zero)).unwrap().shape(), &[0]);
    let e = zeros(&[0, 4], DType::F32);
    assert_eq!(e.i((.., 1)).unwrap().shape(), &[0]);
    assert_eq!(e.i((0..0, ..=-1)).unwrap().shape(), &[0, 4]);
}

#[test]
fn out_of_range_is_an_error_naming_axis_index_and_shape() {
    let t = f32t(data(6, 4), &[2, 3]);
    op_err(
        t.i((0, 3)),
        "i",
        &["index 3", "axis 1", "size 3", "[2, 3]", "-3..=2"],
    );
    op_err(t.i(-3), "i", &["index -3", "axis 0", "[2, 3]"]);
    op_err(t.i(usize::MAX), "i", &["out of range", "axis 0"]);
    op_err(t.i((0, 0, 0)), "i", &["3 indices", "rank-2", "[2, 3]"]);
    op_err(t.i((.., 1..4)), "i", &["range 1..4", "axis 1", "[2, 3]"]);
    let (two, one) = (2, 1);
    op_err(t.i((.., two..one)), "i", &["range 2..1", "axis 1"]);
    op_err(t.i(-3..), "i", &["range -3..", "axis 0"]);
    op_err(t.i(..=2), "i", &["range ..=2", "axis 0"]);
    op_err(t.i(Idx::from(..).step_by(0)), "i", &["step 0", "axis 0"]);
    op_err(
        t.get(&[1]),
        "get",
        &["one index per axis", "got 1", "[2, 3]"],
    );
    op_err(t.get(&[0, -4]), "get", &["index -4", "axis 1", "[2, 3]"]);
    let s = LazyTensor::scalar(1.0f32);
    op_err(s.i(0), "i", &["1 indices", "rank-0"]);
    op_err(zeros(&[0], DType::F32).i(0), "i", &["axis is empty"]);
}

#[test]
fn gradient_flows_through_a_selection() {
    let x = f32t(data(12, 5), &[3, 4]);
    x.set_requires_grad(true).unwrap();
    x.i((1.., Idx::from(..).step_by(2)))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = x.grad().unwrap().to_vec::<f32>().unwrap();
    #[rustfmt::skip]
    let want = vec![
        0.0, 0.0, 0.0, 0.0,
        1.0, 0.0, 1.0, 0.0,
        1.0, 0.0, 1.0, 0.0,
    ];
    assert_eq!(g, want);
    // An integer index drops its axis; the gradient lands on that row only.
    let y = f32t(data(6, 6), &[2, 3]);
    y.set_requires_grad(true).unwrap();
    y.get(&[-1, 1])
        .unwrap()
        .mul_scalar(3.0)
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        y.grad().unwrap().to_vec::<f32>().unwrap(),
        vec![0.0, 0.0, 0.0, 0.0, 3.0, 0.0]
    );
}

#[test]
fn selection_in_a_compiled_function() {
    let f = lazyjit::compile(|xs| Ok(vec![xs[0].i((.., -2..))?.sum_axis(-1)?]));
    let x = f32t(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let out = f.call(&[&x]).unwrap();
    assert_eq!(out[0].to_vec::<f32>().unwrap(), vec![5.0, 11.0]);
    let y = f32t(vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], &[2, 3]);
    assert_eq!(
        f.call(&[&y]).unwrap()[0].to_vec::<f32>().unwrap(),
        vec![3.0, 9.0]
    );
    // A shape the index does not fit is an error at trace time, not a panic.
    let short = f32t(vec![1.0], &[1, 1]);
    assert!(f.call(&[&short]).is_err());
}
