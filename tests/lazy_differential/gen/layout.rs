//! Layout, matmul, indexing, clamp and constant ops of the generator.

use super::*;

impl Gen {
    pub(crate) fn layout(&mut self) -> bool {
        let cap = self.cap;
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let s = xi.shape.clone();
        match self.rng.below(11) {
            0 => {
                let shape = self.reshape_target(xi.numel());
                self.push(Step::Reshape(x, shape.clone()), xi.with_shape(shape));
            }
            1 => {
                if r < 2 {
                    return false;
                }
                let mut perm: Vec<usize> = (0..r).collect();
                for i in (1..r).rev() {
                    perm.swap(i, self.rng.below(i + 1));
                }
                let shape = perm.iter().map(|&p| s[p]).collect();
                self.push(Step::Permute(x, perm), xi.with_shape(shape));
            }
            2 => {
                if r < 1 {
                    return false;
                }
                let (a, b) = (self.rng.below(r), self.rng.below(r));
                let mut shape = s.clone();
                shape.swap(a, b);
                let (ai, bi) = (self.rng.axis_of(a, r), self.rng.axis_of(b, r));
                self.push(Step::Transpose(x, ai, bi), xi.with_shape(shape));
            }
            3 => {
                let mut shape: Vec<usize> = s
                    .iter()
                    .map(|&d| {
                        if d == 1 && self.rng.chance(0.7) {
                            1 + self.rng.below(3)
                        } else {
                            d
                        }
                    })
                    .collect();
                if shape.len() < 4 && self.rng.chance(0.5) {
                    shape.insert(0, 1 + self.rng.below(3));
                }
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                self.push(Step::Expand(x, shape.clone()), xi.with_shape(shape));
            }
            4 => {
                if r < 1 {
                    return false;
                }
                let (mut starts, mut stops, mut steps, mut shape) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for &d in &s {
                    let (a, b) = if d > 0 && self.rng.chance(0.95) {
                        let a = self.rng.below(d);
                        (a, a + 1 + self.rng.below(d - a))
                    } else {
                        let a = self.rng.below(d + 1);
                        (a, a)
                    };
                    let st = 1 + self.rng.below(3);
                    starts.push(a);
                    stops.push(b);
                    steps.push(st);
                    shape.push((b - a).div_ceil(st));
                }
                self.push(Step::Slice(x, starts, stops, steps), xi.with_shape(shape));
            }
            5 => {
                let axes: Vec<usize> = (0..r).filter(|&a| s[a] > 0).collect();
                if axes.is_empty() {
                    return false;
                }
                let a = self.rng.pick(&axes);
                let start = self.rng.below(s[a]);
                let len = 1 + self.rng.below(s[a] - start);
                let mut shape = s.clone();
                shape[a] = len;
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Narrow(x, ai, start, len), xi.with_shape(shape));
            }
            6 => {
                if r < 1 {
                    return false;
                }
                let a = self.rng.below(r);
                let mut parts = vec![x];
                let mut shape = s.clone();
                for _ in 0..1 + self.rng.below(2) {
                    let Some(y) = self.pick(|i| {
                        i.dtype == xi.dtype
                            && i.rank() == r
                            && (0..r).all(|k| k == a || i.shape[k] == s[k])
                    }) else {
                        break;
                    };
                    shape[a] += self.infos[y].shape[a];
                    parts.push(y);
                }
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                let infos: Vec<Info> = parts.iter().map(|&p| self.infos[p].clone()).collect();
                let refs: Vec<&Info> = infos.iter().collect();
                let info = join_info(&refs, shape);
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Concat(parts, ai), info);
            }
            7 => {
                let lo: Vec<usize> = (0..r).map(|_| self.rng.below(3)).collect();
                let hi: Vec<usize> = (0..r).map(|_| self.rng.below(3)).collect();
                let shape: Vec<usize> = (0..r).map(|k| s[k] + lo[k] + hi[k]).collect();
                if shape.iter().product::<usize>() > cap {
                    return false;
                }
                let v = match xi.dtype {
                    DType::Bool => Sc::B(self.rng.chance(0.5)),
                    d if d.is_float() => Sc::F(self.rng.pick(&[0.0, 1.0, -1.5])),
                    _ => Sc::I(self.rng.pick(&[0, 1, -2])),
                };
                let mut info = xi.with_shape(shape);
                info.mag = info.mag.max(v.mag());
                self.push(Step::Pad(x, lo, hi, v), info);
            }
            8 => {
                let (a, b) = if r == 0 {
                    (0, 0)
                } else {
                    let a = self.rng.below(r);
                    (a, a + self.rng.below(r - a))
                };
                let shape = if r == 0 {
                    vec![1]
                } else {
                    let mut sh = s[..a].to_vec();
                    sh.push(s[a..=b].iter().product());
                    sh.extend_from_slice(&s[b + 1..]);
                    sh
                };
                let (ai, bi) = (self.rng.axis_of(a, r.max(1)), self.rng.axis_of(b, r.max(1)));
                self.push(Step::Flatten(x, ai, bi), xi.with_shape(shape));
            }
            9 => {
                let ones: Vec<usize> = (0..r).filter(|&a| s[a] == 1).collect();
                if ones.is_empty() {
                    return false;
                }
                let a = self.rng.pick(&ones);
                let mut shape = s.clone();
                shape.remove(a);
                let ai = self.rng.axis_of(a, r);
                self.push(Step::Squeeze(x, ai), xi.with_shape(shape));
            }
            _ => {
                if r >= 4 {
                    return false;
                }
                let a = self.rng.below(r + 1);
                let mut shape = s.clone();
                shape.insert(a, 1);
                let ai = self.rng.axis_of(a, r + 1);
                self.push(Step::Unsqueeze(x, ai), xi.with_shape(shape));
            }
        }
        true
    }

    pub(crate) fn reshape_target(&mut self, numel: usize) -> Vec<usize> {
        if numel == 0 {
            return vec![0, 1 + self.rng.below(3)];
        }
        let mut left = numel;
        let mut out = Vec::new();
        while left > 1 && out.len() < 3 {
            let divs: Vec<usize> = (2..=left).filter(|d| left.is_multiple_of(*d)).collect();
            let d = self.rng.pick(&divs);
            out.push(d);
            left /= d;
            if self.rng.chance(0.2) {
                out.push(1);
            }
        }
        if left > 1 {
            out.push(left);
        }
        if self.rng.chance(0.2) {
            out.insert(0, 1);
        }
        out
    }

    pub(crate) fn matmul(&mut self) -> bool {
        let cap = self.cap;
        let x = match self.pick(|i| i.is_numeric() && i.rank() >= 2 && i.numel() > 0) {
            Some(x) => x,
            None => {
                let Some(v) = self.pick(|i| i.is_numeric() && i.rank() == 1 && i.numel() > 0)
                else {
                    return false;
                };
                let vi = self.infos[v].clone();
                let info = vi.with_shape(vec![1, vi.shape[0]]);
                self.push(Step::Unsqueeze(v, 0), info)
            }
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let k = xi.shape[r - 1];
        let batch_x = &xi.shape[..r - 2];
        let y = self.pick(|i| {
            i.dtype == xi.dtype
                && i.rank() >= 2
                && i.shape[i.rank() - 2] == k
                && broadcast(batch_x, &i.shape[..i.rank() - 2]).is_some_and(|b| {
                    b.iter().product::<usize>() * xi.shape[r - 2] * i.shape[i.rank() - 1] <= cap
                })
        });
        let batch: usize = batch_x.iter().product();
        let y = match y {
            Some(y) if self.rng.chance(0.6) => y,
            _ if batch * xi.shape[r - 2] * xi.shape[r - 2] > cap => match y {
                Some(y) => y,
                None => return false,
            },
            _ => {
                let info = xi.with_shape({
                    let mut s = xi.shape.clone();
                    s.swap(r - 1, r - 2);
                    s
                });
                self.push(Step::Transpose(x, -1, -2), info)
            }
        };
        let yi = self.infos[y].clone();
        let ry = yi.rank();
        let mut shape = broadcast(batch_x, &yi.shape[..ry - 2]).unwrap();
        shape.push(xi.shape[r - 2]);
        shape.push(yi.shape[ry - 1]);
        let info = matmul_info(&xi, &yi, k, shape);
        self.push(Step::MatMul(x, y), info);
        true
    }

    pub(crate) fn index(&mut self) -> bool {
        let cap = self.cap;
        let Some(x) = self.pick(|i| i.rank() >= 1 && i.shape.iter().all(|&d| d > 0)) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let a = self.rng.below(r);
        let dim = xi.shape[a];
        let idt = if self.rng.chance(0.5) {
            DType::I32
        } else {
            DType::I64
        };
        let gather = self.rng.chance(0.5);
        let ishape: Vec<usize> = if gather {
            (0..r)
                .map(|k| {
                    if k == a {
                        1 + self.rng.below(3)
                    } else {
                        1 + self.rng.below(xi.shape[k])
                    }
                })
                .collect()
        } else {
            let ir = self.rng.below(3);
            (0..ir).map(|_| 1 + self.rng.below(3)).collect()
        };
        let n: usize = ishape.iter().product();
        let vals: Vec<i64> = (0..n).map(|_| self.rng.below(dim) as i64).collect();
        let data = if idt == DType::I32 {
            Data::I32(vals.iter().map(|&v| v as i32).collect())
        } else {
            Data::I64(vals)
        };
        let leaf = Leaf {
            shape: ishape.clone(),
            data,
        };
        let shape = if gather {
            ishape
        } else {
            let mut s = xi.shape[..a].to_vec();
            s.extend_from_slice(&ishape);
            s.extend_from_slice(&xi.shape[a + 1..]);
            s
        };
        if shape.iter().product::<usize>() > cap {
            return false;
        }
        let ai = self.rng.axis_of(a, r);
        let info = xi.with_shape(shape);
        if gather {
            self.push(Step::Gather(x, ai, leaf), info);
        } else {
            self.push(Step::IndexSelect(x, ai, leaf), info);
        }
        true
    }

    pub(crate) fn clamp(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_numeric()) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let (lo, hi) = if xi.is_float() && self.rng.chance(0.7) {
            (Sc::F(-0.5), Sc::F(self.rng.pick(&[-0.5, 0.75, 1.0])))
        } else {
            (Sc::I(-1), Sc::I(self.rng.pick(&[-1, 0, 2])))
        };
        let mut info = xi.clone();
        if !info.exact {
            // max/min of a perturbed value: the absolute error carries over.
            info.err = xi.aerr();
            info.rel = 0.0;
        }
        info.mag = xi.mag.min(lo.mag().max(hi.mag()));
        self.push(Step::Clamp(x, lo, hi), info);
        true
    }

    pub(crate) fn constant(&mut self) -> bool {
        let shape = self.random_shape();
        match self.rng.below(4) {
            0 => {
                let (s, d) = match self.rng.below(3) {
                    0 => (Sc::F(self.rng.pick(&[0.0, 1.0, 2.5, -0.75])), DType::F32),
                    1 => (Sc::I(self.rng.pick(&[0, 1, 3])), DType::I32),
                    _ => (Sc::B(self.rng.chance(0.5)), DType::Bool),
                };
                let info = Info::exact(d, shape.clone(), s.mag(), false);
                self.push(Step::Full(shape, s), info);
            }
            1 => {
                let d = self
                    .rng
                    .pick(&[DType::F32, DType::I32, DType::Bool, DType::F64]);
                let k = if self.rng.chance(0.5) {
                    ConstKind::Zeros
                } else {
                    ConstKind::Ones
                };
                let info = Info::exact(d, shape.clone(), 1.0, false);
                self.push(Step::Const(k, shape, d), info);
            }
            2 => {
                let start = self.rng.pick(&[0.0f32, -1.0, 0.5]);
                let step = self.rng.pick(&[1.0f32, 0.25, 0.5]);
                let n = 1 + self.rng.below(8);
                let end = start + step * n as f32;
                let info = Info::exact(DType::F32, vec![n], 4.0, false);
                self.push(Step::ArangeF32(start, end, step), info);
            }
            _ => {
                let start = self.rng.pick(&[0i32, -3, 2]);
                let step = self.rng.pick(&[1i32, 2, 3]);
                let end = start + step * (1 + self.rng.below(6)) as i32 - self.rng.below(2) as i32;
                let n = ((end - start) as f64 / step as f64).ceil().max(0.0) as usize;
                let info = Info::exact(DType::I32, vec![n], INF, false);
                self.push(Step::ArangeI32(start, end, step), info);
            }
        }
        true
    }
}
