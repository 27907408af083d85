//! Convolution and pooling: conv2d, max_pool2d and avg_pool2d against direct loops on the
//! host (f64 accumulation) on both backends, the MNIST tutorial's layer stack, and errors.

use super::*;

/// One conv2d case: input `[n, c, h, w]`, weight `[o, c, k[0], k[1]]`.
#[derive(Clone, Copy, Debug)]
struct Conv {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: [usize; 2],
    stride: [usize; 2],
    pad: [usize; 2],
    dil: [usize; 2],
    bias: bool,
}

/// Direct convolution (cross-correlation, zero padding) in f64: `[n, o, oh, ow]`.
fn host_conv(x: &[f64], wt: &[f64], b: Option<&[f64]>, cs: &Conv) -> (Vec<f64>, [usize; 4]) {
    let od = |d: usize, dim: usize| {
        (dim + 2 * cs.pad[d] - cs.dil[d] * (cs.k[d] - 1) - 1) / cs.stride[d] + 1
    };
    let (oh, ow) = (od(0, cs.h), od(1, cs.w));
    let mut out = vec![0.0; cs.n * cs.o * oh * ow];
    for n in 0..cs.n {
        for o in 0..cs.o {
            for y in 0..oh {
                for x_ in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for c in 0..cs.c {
                        for i in 0..cs.k[0] {
                            for j in 0..cs.k[1] {
                                let hy = (y * cs.stride[0] + i * cs.dil[0]) as isize
                                    - cs.pad[0] as isize;
                                let wx = (x_ * cs.stride[1] + j * cs.dil[1]) as isize
                                    - cs.pad[1] as isize;
                                if hy < 0 || wx < 0 || hy >= cs.h as isize || wx >= cs.w as isize {
                                    continue;
                                }
                                let xv =
                                    x[((n * cs.c + c) * cs.h + hy as usize) * cs.w + wx as usize];
                                let wv = wt[((o * cs.c + c) * cs.k[0] + i) * cs.k[1] + j];
                                acc += xv * wv;
                            }
                        }
                    }
                    out[((n * cs.o + o) * oh + y) * ow + x_] = acc;
                }
            }
        }
    }
    (out, [cs.n, cs.o, oh, ow])
}

/// Direct pooling in f64 (no padding, floor mode): max or mean of each window.
fn host_pool(
    x: &[f64],
    shape: [usize; 4],
    k: [usize; 2],
    s: [usize; 2],
    max: bool,
) -> (Vec<f64>, [usize; 4]) {
    let [n, c, h, w] = shape;
    let (oh, ow) = ((h - k[0]) / s[0] + 1, (w - k[1]) / s[1] + 1);
    let mut out = Vec::with_capacity(n * c * oh * ow);
    for nc in 0..n * c {
        for y in 0..oh {
            for x_ in 0..ow {
                let mut acc = if max { f64::NEG_INFINITY } else { 0.0 };
                for i in 0..k[0] {
                    for j in 0..k[1] {
                        let v = x[(nc * h + y * s[0] + i) * w + x_ * s[1] + j];
                        acc = if max { acc.max(v) } else { acc + v };
                    }
                }
                out.push(if max { acc } else { acc / (k[0] * k[1]) as f64 });
            }
        }
    }
    (out, [n, c, oh, ow])
}

fn widen(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Runs one conv case in f32 on the current backend and compares with [`host_conv`].
fn check_conv(cs: &Conv, seed: u64) {
    let xv = data(cs.n * cs.c * cs.h * cs.w, seed);
    let wv = data(cs.o * cs.c * cs.k[0] * cs.k[1], seed + 1);
    let bv = data(cs.o, seed + 2);
    let x = f32t(xv.clone(), &[cs.n, cs.c, cs.h, cs.w]);
    let w = f32t(wv.clone(), &[cs.o, cs.c, cs.k[0], cs.k[1]]);
    let b = f32t(bv.clone(), &[cs.o]);
    let y = x
        .conv2d(&w, cs.bias.then_some(&b), cs.stride, cs.pad, cs.dil)
        .unwrap_or_else(|e| panic!("{cs:?}: {e}"));
    let bw = widen(&bv);
    let (want, shape) = host_conv(&widen(&xv), &widen(&wv), cs.bias.then_some(&bw[..]), cs);
    assert_eq!(y.shape(), &shape, "{cs:?}");
    // Each output sums c*kh*kw products of values in [-2, 2).
    let terms = (cs.c * cs.k[0] * cs.k[1]) as f64;
    assert_close(&y.to_vec::<f32>().unwrap(), &want, 4e-7 * terms.max(8.0));
}

fn conv_cases() -> Vec<Conv> {
    let base = Conv {
        n: 2,
        c: 3,
        h: 7,
        w: 6,
        o: 4,
        k: [3, 3],
        stride: [1, 1],
        pad: [0, 0],
        dil: [1, 1],
        bias: true,
    };
    vec![
        base,
        Conv {
            bias: false,
            ..base
        },
        Conv {
            n: 1,
            c: 1,
            o: 1,
            ..base
        },
        Conv {
            stride: [2, 2],
            ..base
        },
        Conv {
            stride: [2, 3],
            pad: [1, 2],
            ..base
        },
        Conv {
            pad: [1, 1],
            ..base
        },
        Conv {
            dil: [2, 1],
            ..base
        },
        Conv {
            dil: [2, 2],
            pad: [2, 2],
            stride: [2, 1],
            bias: false,
            ..base
        },
        Conv { k: [1, 1], ..base },
        Conv {
            k: [1, 1],
            stride: [2, 2],
            pad: [1, 0],
            ..base
        },
        Conv {
            k: [2, 3],
            h: 5,
            w: 9,
            ..base
        },
        Conv {
            k: [5, 5],
            h: 5,
            w: 5,
            ..base
        }, // output 1x1
        Conv {
            k: [3, 3],
            h: 1,
            w: 1,
            pad: [1, 1],
            ..base
        }, // only padding around
        Conv {
            n: 3,
            c: 5,
            h: 9,
            w: 11,
            o: 7,
            k: [3, 2],
            stride: [3, 2],
            pad: [2, 1],
            dil: [1, 2],
            bias: true,
        },
        Conv {
            n: 2,
            c: 8,
            h: 10,
            w: 10,
            o: 16,
            ..base
        },
    ]
}

#[test]
fn conv2d_matches_direct_convolution() {
    both(|| {
        for (i, cs) in conv_cases().iter().enumerate() {
            check_conv(cs, 100 + i as u64);
        }
    });
}

#[test]
fn conv2d_f64_and_output_shape_formula() {
    both(|| {
        let cs = Conv {
            n: 2,
            c: 2,
            h: 6,
            w: 5,
            o: 3,
            k: [3, 2],
            stride: [2, 1],
            pad: [1, 1],
            dil: [1, 2],
            bias: true,
        };
        let xv: Vec<f64> = widen(&data(2 * 2 * 6 * 5, 7));
        let wv: Vec<f64> = widen(&data(3 * 2 * 3 * 2, 8));
        let bv: Vec<f64> = widen(&data(3, 9));
        let y = f64t(xv.clone(), &[2, 2, 6, 5])
            .conv2d(
                &f64t(wv.clone(), &[3, 2, 3, 2]),
                Some(&f64t(bv.clone(), &[3])),
                cs.stride,
                cs.pad,
                cs.dil,
            )
            .unwrap();
        let (want, shape) = host_conv(&xv, &wv, Some(&bv), &cs);
        // OH = (6 + 2 - 2 - 1) / 2 + 1 = 3, OW = (5 + 2 - 2 - 1) / 1 + 1 = 5.
        assert_eq!(shape, [2, 3, 3, 5]);
        assert_eq!(y.shape(), &shape);
        assert_close64(&y.to_vec::<f64>().unwrap(), &want, 1e-12);
    });
}

/// The MNIST tutorial's feature extractor on 8x8 "digits" images: conv 1->4, relu,
/// conv 4->8, relu, max_pool 2, flatten; and a 28x28 input through the first layer.
#[test]
fn tutorial_stack_matches_host() {
    both(|| {
        let n = 3;
        let xv = data(n * 64, 11);
        let (w1, b1) = (data(4 * 9, 12), data(4, 13));
        let (w2, b2) = (data(8 * 4 * 9, 14), data(8, 15));
        let x = f32t(xv.clone(), &[n, 1, 8, 8]);
        let h1 = x
            .conv2d(
                &f32t(w1.clone(), &[4, 1, 3, 3]),
                Some(&f32t(b1.clone(), &[4])),
                [1, 1],
                [0, 0],
                [1, 1],
            )
            .unwrap()
            .relu()
            .unwrap();
        let h2 = h1
            .conv2d(
                &f32t(w2.clone(), &[8, 4, 3, 3]),
                Some(&f32t(b2.clone(), &[8])),
                [1, 1],
                [0, 0],
                [1, 1],
            )
            .unwrap()
            .relu()
            .unwrap();
        let p = h2
            .max_pool2d([2, 2], [2, 2])
            .unwrap()
            .flatten(1, -1)
            .unwrap();
        assert_eq!(p.shape(), &[n, 8 * 2 * 2]);

        let relu = |v: Vec<f64>| v.into_iter().map(|x| x.max(0.0)).collect::<Vec<_>>();
        let c1 = Conv {
            n,
            c: 1,
            h: 8,
            w: 8,
            o: 4,
            k: [3, 3],
            stride: [1, 1],
            pad: [0, 0],
            dil: [1, 1],
            bias: true,
        };
        let (r1, _) = host_conv(&widen(&xv), &widen(&w1), Some(&widen(&b1)), &c1);
        let c2 = Conv {
            c: 4,
            h: 6,
            w: 6,
            o: 8,
            ..c1
        };
        let (r2, s2) = host_conv(&relu(r1), &widen(&w2), Some(&widen(&b2)), &c2);
        let (want, _) = host_pool(&relu(r2), s2, [2, 2], [2, 2], true);
        assert_close(&p.to_vec::<f32>().unwrap(), &want, 1e-5 * 36.0);

        // 28x28, batch 2, the first tutorial layer (1 -> 32).
        let cs = Conv {
            n: 2,
            c: 1,
            h: 28,
            w: 28,
            o: 32,
            ..c1
        };
        check_conv(&cs, 21);
    });
}

#[test]
fn pooling_matches_direct() {
    both(|| {
        for (i, (shape, k, s)) in [
            ([2, 3, 8, 8], [2, 2], [2, 2]),
            ([1, 2, 7, 9], [2, 2], [2, 2]), // remainders dropped
            ([2, 1, 5, 5], [3, 3], [3, 3]),
            ([1, 2, 7, 6], [3, 2], [3, 2]),
            ([2, 2, 7, 7], [3, 3], [2, 2]), // overlapping
            ([1, 3, 6, 9], [2, 3], [1, 2]),
            ([1, 1, 4, 4], [1, 1], [2, 2]), // subsampling
            ([1, 1, 3, 5], [3, 5], [1, 1]), // one window
            ([3, 2, 4, 6], [2, 2], [3, 1]),
        ]
        .into_iter()
        .enumerate()
        {
            let numel = shape.iter().product();
            let xv = data(numel, 40 + i as u64);
            let x = f32t(xv.clone(), &shape);
            for max in [true, false] {
                let y = if max {
                    x.max_pool2d(k, s)
                } else {
                    x.avg_pool2d(k, s)
                }
                .unwrap();
                let (want, oshape) = host_pool(&widen(&xv), shape, k, s, max);
                assert_eq!(y.shape(), &oshape, "{shape:?} k {k:?} s {s:?} max {max}");
                assert_close(&y.to_vec::<f32>().unwrap(), &want, 1e-6);
            }
        }
    });
}

#[test]
fn max_pool2d_integers_and_nan() {
    both(|| {
        let x = i64t((0..16).map(|v| (v * 7) % 11).collect(), &[1, 1, 4, 4]);
        let y = x.max_pool2d([2, 2], [2, 2]).unwrap();
        assert_eq!(y.to_vec::<i64>().unwrap(), vec![7, 10, 8, 10]);
        let z = x.max_pool2d([3, 3], [1, 1]).unwrap();
        assert_eq!(z.to_vec::<i64>().unwrap(), vec![9, 10, 10, 10]);

        let mut v = vec![0.0f32; 16];
        v[5] = f32::NAN;
        let x = f32t(v, &[1, 1, 4, 4]);
        // The NaN at (1, 1) is in window 0 of the 2x2/2 pool and in windows (0, 0) and
        // (1, 0) of the 2x2 pool with stride [1, 2] (output 3x2).
        for (y, nan_at) in [
            (x.max_pool2d([2, 2], [2, 2]).unwrap(), vec![0]),
            (x.max_pool2d([2, 2], [1, 2]).unwrap(), vec![0, 2]),
        ] {
            let got = y.to_vec::<f32>().unwrap();
            for (i, g) in got.iter().enumerate() {
                assert_eq!(g.is_nan(), nan_at.contains(&i), "{got:?}");
            }
        }
    });
}

#[test]
fn conv_and_pool_errors_name_shapes() {
    let x = zeros(&[2, 3, 5, 5], DType::F32);
    let w = zeros(&[4, 3, 3, 3], DType::F32);
    let one = [1, 1];
    let zero = [0, 0];
    // Rank.
    op_err(
        zeros(&[3, 5, 5], DType::F32).conv2d(&w, None, one, zero, one),
        "conv2d",
        &["[N, C, H, W]", "f32[3, 5, 5]"],
    );
    op_err(
        x.conv2d(&zeros(&[4, 3, 3], DType::F32), None, one, zero, one),
        "conv2d",
        &["weight", "f32[4, 3, 3]", "f32[2, 3, 5, 5]"],
    );
    // Channels.
    op_err(
        x.conv2d(&zeros(&[4, 2, 3, 3], DType::F32), None, one, zero, one),
        "conv2d",
        &[
            "2 input channels",
            "f32[4, 2, 3, 3]",
            "f32[2, 3, 5, 5]",
            "has 3",
        ],
    );
    // Kernel larger than the padded input (with dilation and padding in the sums).
    op_err(
        x.conv2d(&zeros(&[4, 3, 7, 3], DType::F32), None, one, zero, one),
        "conv2d",
        &["kernel 7x3", "padded input [5, 5]", "f32[4, 3, 7, 3]"],
    );
    op_err(
        x.conv2d(&w, None, one, zero, [3, 1]),
        "conv2d",
        &["spans [7, 3]", "padded input [5, 5]"],
    );
    assert_eq!(
        x.conv2d(&zeros(&[4, 3, 7, 3], DType::F32), None, one, [1, 0], one)
            .unwrap()
            .shape(),
        &[2, 4, 1, 3]
    );
    // Zero stride, zero dilation, empty kernel.
    op_err(
        x.conv2d(&w, None, [0, 1], zero, one),
        "conv2d",
        &["stride must be at least 1", "[0, 1]", "f32[2, 3, 5, 5]"],
    );
    op_err(
        x.conv2d(&w, None, one, zero, [1, 0]),
        "conv2d",
        &["dilation must be at least 1", "[1, 0]"],
    );
    op_err(
        x.conv2d(&zeros(&[4, 3, 0, 3], DType::F32), None, one, zero, one),
        "conv2d",
        &["empty kernel", "f32[4, 3, 0, 3]"],
    );
    // Bias and dtypes.
    op_err(
        x.conv2d(&w, Some(&zeros(&[3], DType::F32)), one, zero, one),
        "conv2d",
        &["bias must be f32[4]", "f32[3]"],
    );
    op_err(
        x.conv2d(&zeros(&[4, 3, 3, 3], DType::F64), None, one, zero, one),
        "conv2d",
        &["one dtype", "f64[4, 3, 3, 3]"],
    );
    op_err(
        zeros(&[2, 3, 5, 5], DType::I32).conv2d(&w, None, one, zero, one),
        "conv2d",
        &["float dtype", "i32[2, 3, 5, 5]"],
    );
    // Pooling.
    for (name, max) in [("max_pool2d", true), ("avg_pool2d", false)] {
        let pool = |t: &LazyTensor, k, s| {
            if max {
                t.max_pool2d(k, s)
            } else {
                t.avg_pool2d(k, s)
            }
        };
        op_err(
            pool(&zeros(&[5, 5], DType::F32), [2, 2], [2, 2]),
            name,
            &["[N, C, H, W]", "f32[5, 5]"],
        );
        op_err(
            pool(&x, [6, 2], [1, 1]),
            name,
            &["kernel [6, 2]", "spatial dims [5, 5]", "f32[2, 3, 5, 5]"],
        );
        op_err(
            pool(&x, [2, 2], [2, 0]),
            name,
            &["stride must be at least 1", "[2, 0]"],
        );
        op_err(
            pool(&x, [0, 2], [1, 1]),
            name,
            &["kernel must be at least 1", "[0, 2]"],
        );
    }
    op_err(
        zeros(&[1, 1, 4, 4], DType::I32).avg_pool2d([2, 2], [2, 2]),
        "avg_pool2d",
        &["float dtype", "i32[1, 1, 4, 4]"],
    );
    op_err(
        zeros(&[1, 1, 4, 4], DType::Bool).max_pool2d([2, 2], [2, 2]),
        "max_pool2d",
        &["numeric dtype", "bool[1, 1, 4, 4]"],
    );
}
