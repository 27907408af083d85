//! Indexing: gather and index_select on every dtype, axis and index rank.

use super::*;

#[test]
fn gather_every_dtype_and_axis() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize)] = &[
        (&[4, 5], &[3, 5], 0),
        (&[4, 5], &[4, 2], 1),
        (&[4, 5], &[2, 3], 1),
        (&[7], &[13], 0),
        (&[1023], &[1023], 0),
        (&[2, 3, 9], &[2, 2, 17], 2),
        (&[2, 3, 9], &[1, 5, 4], 1),
        (&[3, 4], &[0, 4], 0),
        (&[1], &[6], 0),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(26);
    for d in DType::ALL {
        for id in [DType::I32, DType::I64] {
            for (ds, is, axis) in cases {
                let (mut p, x) = with_params(&[(d, ds), (id, is)]);
                let y = push(&mut p, Op::Gather { axis: *axis }, &[x[0], x[1]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Neg), &[y]);
                    p.output(z);
                }
                let data = random_tensor(&tt(d, ds), MIXED, &mut rng);
                let hi = ds[*axis] as f64 - 1.0;
                let index = random_tensor(&tt(id, is), Fill::Range(0.0, hi), &mut rng);
                fails.extend(check(&p, &[data, index], &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}

#[test]
fn index_select_every_dtype_axis_and_index_rank() {
    #[allow(clippy::type_complexity)]
    let cases: &[(&[usize], &[usize], usize)] = &[
        (&[5, 7], &[], 0),
        (&[5, 7], &[], 1),
        (&[5, 7], &[3], 0),
        (&[5, 7], &[9], 1),
        (&[5, 7], &[2, 4], 1),
        (&[5, 7], &[2, 4], 0),
        (&[1023], &[17], 0),
        (&[3, 4, 6], &[2, 2], 1),
        (&[3, 4, 6], &[5], 2),
        (&[0, 4], &[3], 1),
        (&[3, 4], &[0], 1),
    ];
    let mut fails = Vec::new();
    let mut rng = Rng::new(27);
    for d in DType::ALL {
        for id in [DType::I32, DType::I64] {
            for (ds, is, axis) in cases {
                let (mut p, x) = with_params(&[(d, ds), (id, is)]);
                let y = push(&mut p, Op::IndexSelect { axis: *axis }, &[x[0], x[1]]);
                p.output(y);
                if d.is_numeric() {
                    let z = push(&mut p, Op::Unary(UnaryOp::Abs), &[y]);
                    p.output(z);
                }
                let data = random_tensor(&tt(d, ds), MIXED, &mut rng);
                let hi = ds[*axis] as f64 - 1.0;
                let index = random_tensor(&tt(id, is), Fill::Range(0.0, hi.max(0.0)), &mut rng);
                fails.extend(check(&p, &[data, index], &moves_bitwise(&p)).err());
            }
        }
    }
    report(fails);
}
