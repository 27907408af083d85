//! Gradient checks of the layout ops: views (reshape, permute, transpose, expand), strided
//! slices, concat, pad, and non-contiguous views feeding other ops.

use super::gradcheck::{both, check, uniform};
use lazyjit::LazyTensor;

#[test]
fn views() {
    let _serial = crate::support::serial();
    both(|| {
        let x = || uniform(&[2, 3, 4], -1.0, 1.0, 80);
        check("reshape", &[x()], |t| t[0].reshape(&[4, 6]));
        check("permute", &[x()], |t| t[0].permute(&[2, 0, 1]));
        check("transpose", &[x()], |t| t[0].transpose(0, 2));
        check("flatten", &[x()], |t| t[0].flatten(1, 2));
        check("unsqueeze + squeeze", &[x()], |t| {
            t[0].unsqueeze(1)?.exp()?.squeeze(1)
        });
        check("expand", &[uniform(&[3, 1], -1.0, 1.0, 81)], |t| {
            t[0].expand(&[2, 3, 4])
        });
    });
}

#[test]
fn slices_with_steps_and_offsets() {
    let _serial = crate::support::serial();
    both(|| {
        let x = || uniform(&[7, 6], -1.0, 1.0, 90);
        check("slice step 1", &[x()], |t| {
            t[0].slice(&[1, 2], &[5, 6], &[1, 1])
        });
        check("slice step 2", &[x()], |t| {
            t[0].slice(&[0, 1], &[7, 6], &[2, 2])
        });
        // Steps that do not divide the extent, and a slice ending before the axis does.
        check("slice step 3", &[x()], |t| {
            t[0].slice(&[1, 0], &[6, 5], &[3, 4])
        });
        check("narrow", &[x()], |t| t[0].narrow(1, 2, 3));
        check("slice of a slice", &[x()], |t| {
            t[0].slice(&[1, 1], &[7, 6], &[2, 1])?
                .slice(&[0, 1], &[3, 5], &[2, 3])
        });
    });
}

#[test]
fn concat_and_pad() {
    let _serial = crate::support::serial();
    both(|| {
        check(
            "concat",
            &[
                uniform(&[2, 3], -1.0, 1.0, 100),
                uniform(&[2, 1], -1.0, 1.0, 101),
                uniform(&[2, 2], -1.0, 1.0, 102),
            ],
            |t| LazyTensor::concat(&[&t[0], &t[1], &t[2]], 1),
        );
        check(
            "concat of one tensor used twice",
            &[uniform(&[2, 2], -1.0, 1.0, 103)],
            |t| LazyTensor::concat(&[&t[0], &t[0]], 0),
        );
        check("pad", &[uniform(&[2, 3], -1.0, 1.0, 104)], |t| {
            t[0].pad(&[1, 0], &[2, 3], 0.5)
        });
    });
}

#[test]
fn non_contiguous_views_feeding_other_ops() {
    let _serial = crate::support::serial();
    both(|| {
        check(
            "transposed matmul operand",
            &[
                uniform(&[4, 3], -1.0, 1.0, 110),
                uniform(&[4, 2], -1.0, 1.0, 111),
            ],
            |t| t[0].t()?.matmul(&t[1]),
        );
        check(
            "strided slice times permuted view",
            &[
                uniform(&[4, 6], -1.0, 1.0, 112),
                uniform(&[3, 2], -1.0, 1.0, 113),
            ],
            |t| {
                t[0].slice(&[0, 0], &[4, 6], &[2, 2])?
                    .mul(&t[1].t()?)?
                    .exp()
            },
        );
        check(
            "reduction of a permuted view",
            &[uniform(&[2, 3, 4], -1.0, 1.0, 114)],
            |t| t[0].permute(&[1, 2, 0])?.sum(&[1], true),
        );
    });
}

#[test]
fn convolution_and_pooling() {
    let _serial = crate::support::serial();
    both(|| {
        check(
            "conv2d stride 1",
            &[
                uniform(&[2, 2, 5, 5], -1.0, 1.0, 120),
                uniform(&[3, 2, 3, 3], -1.0, 1.0, 121),
                uniform(&[3], -1.0, 1.0, 122),
            ],
            |t| t[0].conv2d(&t[1], Some(&t[2]), [1, 1], [0, 0], [1, 1]),
        );
        check(
            "conv2d stride, padding, dilation",
            &[
                uniform(&[1, 2, 6, 5], -1.0, 1.0, 123),
                uniform(&[2, 2, 2, 3], -1.0, 1.0, 124),
            ],
            |t| t[0].conv2d(&t[1], None, [2, 1], [1, 2], [2, 1]),
        );
        check(
            "max_pool2d",
            &[super::gradcheck::distinct(&[2, 2, 5, 4], 125)],
            |t| t[0].max_pool2d([2, 2], [2, 2]),
        );
        check(
            "max_pool2d overlapping",
            &[super::gradcheck::distinct(&[1, 2, 5, 5], 126)],
            |t| t[0].max_pool2d([3, 3], [2, 1]),
        );
        check(
            "avg_pool2d",
            &[uniform(&[2, 1, 4, 6], -1.0, 1.0, 127)],
            |t| t[0].avg_pool2d([2, 3], [1, 2]),
        );
    });
}
