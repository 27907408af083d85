//! The MNIST tutorial's convolution stack, forward only, batch 64 of 28x28 f32 images:
//! `conv2d(1 -> 32, 3x3) + relu`, `conv2d(32 -> 64, 3x3) + relu`, `max_pool2d(2)`
//! (`[64, 1, 28, 28] -> [64, 64, 12, 12]`).
//!
//! - `lazyjit`: `LazyTensor::conv2d` / `max_pool2d` in steady state (the graph is recorded,
//!   synced — a computation-cache hit — and dropped every iteration).
//! - `baseline`: hand-written im2col + `matrixmultiply::sgemm`, one image at a time with
//!   reused buffers (bias and relu fused into the im2col of the next layer / the pooling).
//! - pieces, to see where the time goes: each conv layer alone through lazyjit, and the two
//!   GEMMs alone (`sgemm` on prepared im2col matrices: the floor of any im2col scheme).
//!
//! Measured (this session, `--quick`, 2 vCPUs shared with other builds, load ~10): lazyjit
//! 80 ms, baseline 27.6 ms (2.9x); lazyjit conv2 + relu + pool alone 74 ms; the two GEMMs
//! alone 23.4 ms. The fusion plan is 7 kernels: two weight copies (permute + reshape), the
//! im2col of each layer (a loop kernel rooted at the concat, cut at its 9 seams; the second
//! one fuses the first layer's bias + relu), the two GEMMs, and one reduce kernel for bias +
//! relu + max pool. The GEMM is not the gap: the im2col of layer 2 (10.6M elements,
//! 42 MB) costs ~45 ms, because each window's `[OH, OW] -> OH*OW` merge of a strided slice
//! leaves a `udiv`/`urem` by OW per element and scalar lanes (`insertlane`) instead of
//! vector loads. Before the windows were reshaped ahead of the concat (reshape as the cols
//! kernel's root, no cut at the seams: every element evaluated all 9 windows and selected
//! one) the forward took 179 ms.
//!
//! Run: `cargo bench --bench conv` (`-- --quick` for a fast look). With `CONV_BENCH_PLAN=1`
//! it first prints the Cranelift backend's listing of the lazy graph (its fusion plan).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use lazyjit::{dump, LazyTensor};
use std::time::Duration;

mod common;
use common::seq;

const N: usize = 64;

struct Net {
    x: Vec<f32>,
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
}

impl Net {
    fn new() -> Net {
        let scale = |v: Vec<f32>, s: f32| v.into_iter().map(|x| x * s).collect::<Vec<_>>();
        Net {
            x: scale(seq(N * 28 * 28, 1), 0.5),
            w1: scale(seq(32 * 9, 2), 0.3),
            b1: scale(seq(32, 3), 0.1),
            w2: scale(seq(64 * 32 * 9, 4), 0.05),
            b2: scale(seq(64, 5), 0.1),
        }
    }
}

struct Lazy {
    x: LazyTensor,
    w1: LazyTensor,
    b1: LazyTensor,
    w2: LazyTensor,
    b2: LazyTensor,
}

impl Lazy {
    fn new(n: &Net) -> Lazy {
        let t = |v: &Vec<f32>, s: &[usize]| LazyTensor::from_vec(v.clone(), s).unwrap();
        Lazy {
            x: t(&n.x, &[N, 1, 28, 28]),
            w1: t(&n.w1, &[32, 1, 3, 3]),
            b1: t(&n.b1, &[32]),
            w2: t(&n.w2, &[64, 32, 3, 3]),
            b2: t(&n.b2, &[64]),
        }
    }

    fn conv1(&self) -> LazyTensor {
        let s = [1, 1];
        let y = self.x.conv2d(&self.w1, Some(&self.b1), s, [0, 0], s);
        y.unwrap().relu().unwrap()
    }

    fn conv2(&self, h1: &LazyTensor) -> LazyTensor {
        let s = [1, 1];
        let y = h1.conv2d(&self.w2, Some(&self.b2), s, [0, 0], s);
        y.unwrap().relu().unwrap()
    }

    fn forward(&self) -> LazyTensor {
        let h2 = self.conv2(&self.conv1());
        h2.max_pool2d([2, 2], [2, 2]).unwrap()
    }
}

/// `rows = c*3*3` im2col of one `[c, h, w]` image for a 3x3 kernel, stride 1, no padding,
/// channel-major rows (`c*9 + i*3 + j`, matching `weight.reshape([o, c*9])`); `f` is applied
/// to each element read (bias + relu of the previous layer).
fn im2col3(
    img: &[f32],
    c: usize,
    h: usize,
    w: usize,
    cols: &mut [f32],
    f: impl Fn(usize, f32) -> f32,
) {
    let (oh, ow) = (h - 2, w - 2);
    let l = oh * ow;
    for ch in 0..c {
        let plane = &img[ch * h * w..(ch + 1) * h * w];
        for i in 0..3 {
            for j in 0..3 {
                let row = &mut cols[(ch * 9 + i * 3 + j) * l..][..l];
                for y in 0..oh {
                    let src = &plane[(y + i) * w + j..][..ow];
                    for (d, &s) in row[y * ow..(y + 1) * ow].iter_mut().zip(src) {
                        *d = f(ch, s);
                    }
                }
            }
        }
    }
}

/// `c[m, n] = a[m, k] @ b[k, n]`, all row-major.
fn sgemm(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    // SAFETY: the slices hold m*k, k*n and m*n elements (checked), row-major strides.
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

/// Scratch buffers of the baseline, allocated once.
struct Scratch {
    cols1: Vec<f32>,
    y1: Vec<f32>,
    cols2: Vec<f32>,
    y2: Vec<f32>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            cols1: vec![0.0; 9 * 26 * 26],
            y1: vec![0.0; 32 * 26 * 26],
            cols2: vec![0.0; 288 * 24 * 24],
            y2: vec![0.0; 64 * 24 * 24],
        }
    }
}

/// The baseline forward: per image, im2col + sgemm twice, then bias + relu + 2x2 max pool.
fn baseline(net: &Net, s: &mut Scratch, out: &mut [f32]) {
    for n in 0..N {
        let img = &net.x[n * 784..(n + 1) * 784];
        im2col3(img, 1, 28, 28, &mut s.cols1, |_, v| v);
        sgemm(32, 9, 676, &net.w1, &s.cols1, &mut s.y1);
        let b1 = &net.b1;
        im2col3(&s.y1, 32, 26, 26, &mut s.cols2, |ch, v| {
            (v + b1[ch]).max(0.0)
        });
        sgemm(64, 288, 576, &net.w2, &s.cols2, &mut s.y2);
        let o = &mut out[n * 64 * 144..(n + 1) * 64 * 144];
        for ch in 0..64 {
            let b = net.b2[ch];
            let plane = &s.y2[ch * 576..(ch + 1) * 576];
            for y in 0..12 {
                for x in 0..12 {
                    let at =
                        |i: usize, j: usize| (plane[(2 * y + i) * 24 + 2 * x + j] + b).max(0.0);
                    o[ch * 144 + y * 12 + x] = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
                }
            }
        }
    }
}

fn conv_tutorial(c: &mut Criterion) {
    let net = Net::new();
    let lz = Lazy::new(&net);
    if std::env::var_os("CONV_BENCH_PLAN").is_some() {
        let y = lz.forward();
        println!("{}", dump::program_text(&[&y]));
        println!("{}", dump::backend_text(&[&y]).unwrap());
    }

    // Same result both ways (and the lazy graph compiled once: later syncs are cache hits).
    let got = lz.forward().to_vec::<f32>().unwrap();
    let mut s = Scratch::new();
    let mut want = vec![0.0f32; N * 64 * 144];
    baseline(&net, &mut s, &mut want);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs() / (1.0 + w.abs()))
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "lazyjit and baseline differ by {worst}");
    lz.forward().to_vec::<f32>().unwrap();
    assert!(
        lazyjit::last_sync().unwrap().cache_hit,
        "steady state is a cache hit"
    );

    let mut g = c.benchmark_group("conv_tutorial");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("lazyjit", |b| {
        b.iter(|| {
            let y = lz.forward();
            lazyjit::sync(&[&y]).unwrap();
            drop(black_box(y))
        })
    });
    g.bench_function("baseline_im2col_sgemm", |b| {
        b.iter(|| baseline(&net, &mut s, black_box(&mut want)))
    });
    // Pieces.
    g.bench_function("lazyjit_conv1_relu", |b| {
        b.iter(|| {
            let y = lz.conv1();
            lazyjit::sync(&[&y]).unwrap();
            drop(black_box(y))
        })
    });
    let h1 = lz.conv1();
    lazyjit::sync(&[&h1]).unwrap();
    g.bench_function("lazyjit_conv2_relu_pool", |b| {
        b.iter(|| {
            let y = lz.conv2(&h1).max_pool2d([2, 2], [2, 2]).unwrap();
            lazyjit::sync(&[&y]).unwrap();
            drop(black_box(y))
        })
    });
    g.bench_function("sgemm_only_both_layers", |b| {
        b.iter(|| {
            for _ in 0..N {
                sgemm(32, 9, 676, &net.w1, &s.cols1, &mut s.y1);
                sgemm(64, 288, 576, &net.w2, &s.cols2, &mut s.y2);
            }
            black_box(&s.y2);
        })
    });
    g.finish();
}

criterion_group!(benches, conv_tutorial);
criterion_main!(benches);
