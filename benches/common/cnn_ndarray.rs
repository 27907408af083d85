//! The tutorial network's training step written by hand with ndarray (`dot` is
//! matrixmultiply): im2col convolutions, their backward passes through col2im, max-pool
//! with argmax routing, fixed dropout masks, log_softmax + nll_loss, and Adadelta. The
//! same-run baseline of `cnn_step` (`benches/training.rs`).

use ndarray::{s, Array1, Array2, Array4, ArrayView2, Axis};

/// One conv layer's parameters and Adadelta state.
struct Param2 {
    w: Array2<f32>,
    b: Array1<f32>,
    vw: Array2<f32>,
    uw: Array2<f32>,
    vb: Array1<f32>,
    ub: Array1<f32>,
}

impl Param2 {
    fn new(out: usize, fan_in: usize, w: Vec<f32>, b: Vec<f32>) -> Param2 {
        Param2 {
            w: Array2::from_shape_vec((out, fan_in), w).unwrap(),
            b: Array1::from(b),
            vw: Array2::zeros((out, fan_in)),
            uw: Array2::zeros((out, fan_in)),
            vb: Array1::zeros(out),
            ub: Array1::zeros(out),
        }
    }

    fn adadelta(&mut self, gw: &Array2<f32>, gb: &Array1<f32>, lr: f32) {
        fn upd(p: &mut [f32], g: &[f32], v: &mut [f32], u: &mut [f32], lr: f32) {
            let (rho, eps) = (0.9f32, 1e-6f32);
            for i in 0..p.len() {
                v[i] = rho * v[i] + (1.0 - rho) * g[i] * g[i];
                let d = (u[i] + eps).sqrt() / (v[i] + eps).sqrt() * g[i];
                u[i] = rho * u[i] + (1.0 - rho) * d * d;
                p[i] -= lr * d;
            }
        }
        upd(
            self.w.as_slice_mut().unwrap(),
            gw.as_slice().unwrap(),
            self.vw.as_slice_mut().unwrap(),
            self.uw.as_slice_mut().unwrap(),
            lr,
        );
        upd(
            self.b.as_slice_mut().unwrap(),
            gb.as_slice().unwrap(),
            self.vb.as_slice_mut().unwrap(),
            self.ub.as_slice_mut().unwrap(),
            lr,
        );
    }
}

/// Batch 64 of `[1, 28, 28]` images through conv(32) → relu → conv(64) → relu → pool 2 →
/// dropout → fc(128) → relu → dropout → fc(10) → log_softmax → nll, with Adadelta.
pub struct NdCnn {
    conv1: Param2,
    conv2: Param2,
    fc1: Param2,
    fc2: Param2,
    x: Array4<f32>,
    y: Vec<usize>,
    mask1: Array2<f32>,
    mask2: Array2<f32>,
}

const B: usize = 64;

/// `[C, H, W]` image → cols `[C*9, (H-2)*(W-2)]` (3x3 valid windows, channel-major rows).
fn im2col(img: ndarray::ArrayView3<f32>) -> Array2<f32> {
    let (c, h, w) = img.dim();
    let (oh, ow) = (h - 2, w - 2);
    let mut cols = Array2::zeros((c * 9, oh * ow));
    for ci in 0..c {
        for ky in 0..3 {
            for kx in 0..3 {
                let mut row = cols.row_mut(ci * 9 + ky * 3 + kx);
                let row = row.as_slice_mut().unwrap();
                for y in 0..oh {
                    let src = img.slice(s![ci, y + ky, kx..kx + ow]);
                    row[y * ow..(y + 1) * ow].copy_from_slice(src.as_slice().unwrap());
                }
            }
        }
    }
    cols
}

/// The adjoint of [`im2col`]: accumulates `dcols` back into a `[C, H, W]` gradient.
fn col2im(dcols: ArrayView2<f32>, c: usize, h: usize, w: usize) -> ndarray::Array3<f32> {
    let (oh, ow) = (h - 2, w - 2);
    let mut img = ndarray::Array3::zeros((c, h, w));
    for ci in 0..c {
        for ky in 0..3 {
            for kx in 0..3 {
                let row = dcols.row(ci * 9 + ky * 3 + kx);
                for y in 0..oh {
                    let mut dst = img.slice_mut(s![ci, y + ky, kx..kx + ow]);
                    for (d, &v) in dst
                        .iter_mut()
                        .zip(&row.as_slice().unwrap()[y * ow..(y + 1) * ow])
                    {
                        *d += v;
                    }
                }
            }
        }
    }
    img
}

impl NdCnn {
    pub fn new(x: Vec<f32>, y: Vec<usize>, mut init: impl FnMut(usize, f32) -> Vec<f32>) -> NdCnn {
        // Uniform in ±1/√fan_in, as the lazy network's initialisation.
        let mut make = |out: usize, fan_in: usize| {
            let k = 1.0 / (fan_in as f32).sqrt();
            Param2::new(out, fan_in, init(out * fan_in, k), init(out, k))
        };
        let conv1 = make(32, 9);
        let conv2 = make(64, 32 * 9);
        let fc1 = make(128, 9216);
        let fc2 = make(10, 128);
        let mask = |n: usize, m: usize, p: f32, seed: usize| {
            Array2::from_shape_fn((n, m), |(i, j)| {
                let h = (i * 7919 + j * 104_729 + seed).wrapping_mul(2_654_435_761) % 1000;
                if (h as f32) < p * 1000.0 {
                    0.0
                } else {
                    1.0 / (1.0 - p)
                }
            })
        };
        NdCnn {
            conv1,
            conv2,
            fc1,
            fc2,
            x: Array4::from_shape_vec((B, 1, 28, 28), x).unwrap(),
            y,
            mask1: mask(B, 9216, 0.25, 1),
            mask2: mask(B, 128, 0.5, 2),
        }
    }

    /// One training step; returns the loss.
    pub fn step(&mut self) -> f32 {
        let (c1, c2) = (&self.conv1, &self.conv2);
        // Forward, per image: conv1 + relu, conv2 + relu, pool (remembering the argmax).
        let mut cols1 = Vec::with_capacity(B);
        let mut cols2 = Vec::with_capacity(B);
        let mut h1s = Vec::with_capacity(B);
        let mut h2s = Vec::with_capacity(B);
        let mut pooled = Array2::<f32>::zeros((B, 9216));
        let mut argmax = vec![0u32; B * 9216];
        for n in 0..B {
            let cols = im2col(self.x.slice(s![n, .., .., ..]));
            let mut h1 = c1.w.dot(&cols) + c1.b.view().insert_axis(Axis(1));
            h1.mapv_inplace(|v| v.max(0.0));
            let h1 = h1.into_shape_with_order((32, 26, 26)).unwrap();
            let cols_2 = im2col(h1.view());
            let mut h2 = c2.w.dot(&cols_2) + c2.b.view().insert_axis(Axis(1));
            h2.mapv_inplace(|v| v.max(0.0));
            let h2s_n = h2.as_slice().unwrap();
            let out = pooled.row_mut(n).into_slice().unwrap();
            for c in 0..64 {
                for py in 0..12 {
                    for px in 0..12 {
                        let mut best = (f32::NEG_INFINITY, 0usize);
                        for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            let i = c * 576 + (2 * py + dy) * 24 + 2 * px + dx;
                            if h2s_n[i] > best.0 {
                                best = (h2s_n[i], i);
                            }
                        }
                        let o = c * 144 + py * 12 + px;
                        out[o] = best.0;
                        argmax[n * 9216 + o] = best.1 as u32;
                    }
                }
            }
            cols1.push(cols);
            cols2.push(cols_2);
            h1s.push(h1);
            h2s.push(h2);
        }
        let d1 = &pooled * &self.mask1;
        let mut a1 = d1.dot(&self.fc1.w.t()) + &self.fc1.b;
        a1.mapv_inplace(|v| v.max(0.0));
        let d2 = &a1 * &self.mask2;
        let logits = d2.dot(&self.fc2.w.t()) + &self.fc2.b;
        // log_softmax + nll, and its gradient.
        let mut g = logits;
        let mut loss = 0.0;
        for (i, mut row) in g.axis_iter_mut(Axis(0)).enumerate() {
            let m = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            row.mapv_inplace(|v| (v - m).exp());
            let s = row.sum();
            row.mapv_inplace(|v| v / s);
            loss -= row[self.y[i]].ln();
            row[self.y[i]] -= 1.0;
            row.mapv_inplace(|v| v / B as f32);
        }
        // Backward through the linear layers.
        let gw_fc2 = g.t().dot(&d2);
        let gb_fc2 = g.sum_axis(Axis(0));
        let mut ga1 = g.dot(&self.fc2.w) * &self.mask2;
        ga1.zip_mut_with(&a1, |d, &a| {
            if a <= 0.0 {
                *d = 0.0
            }
        });
        let gw_fc1 = ga1.t().dot(&d1);
        let gb_fc1 = ga1.sum_axis(Axis(0));
        let gpool = ga1.dot(&self.fc1.w) * &self.mask1;
        // Backward through pool, conv2, relu, conv1, per image.
        let mut gw2 = Array2::<f32>::zeros(c2.w.dim());
        let mut gb2 = Array1::<f32>::zeros(64);
        let mut gw1 = Array2::<f32>::zeros(c1.w.dim());
        let mut gb1 = Array1::<f32>::zeros(32);
        for n in 0..B {
            let mut gh2 = Array2::<f32>::zeros((64, 576));
            {
                let gh = gh2.as_slice_mut().unwrap();
                let gp = gpool.row(n);
                for (o, &v) in gp.iter().enumerate() {
                    gh[argmax[n * 9216 + o] as usize] += v;
                }
                for (d, &h) in gh.iter_mut().zip(h2s[n].as_slice().unwrap()) {
                    if h <= 0.0 {
                        *d = 0.0;
                    }
                }
            }
            gw2 += &gh2.dot(&cols2[n].t());
            gb2 += &gh2.sum_axis(Axis(1));
            let dcols = c2.w.t().dot(&gh2);
            let mut gh1 = col2im(dcols.view(), 32, 26, 26);
            gh1.zip_mut_with(&h1s[n], |d, &h| {
                if h <= 0.0 {
                    *d = 0.0
                }
            });
            let gh1 = gh1.into_shape_with_order((32, 676)).unwrap();
            gw1 += &gh1.dot(&cols1[n].t());
            gb1 += &gh1.sum_axis(Axis(1));
        }
        self.conv1.adadelta(&gw1, &gb1, 1.0);
        self.conv2.adadelta(&gw2, &gb2, 1.0);
        self.fc1.adadelta(&gw_fc1, &gb_fc1, 1.0);
        self.fc2.adadelta(&gw_fc2, &gb_fc2, 1.0);
        loss / B as f32
    }
}
