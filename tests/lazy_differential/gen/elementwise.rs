//! Elementwise and reducing ops of the generator: unary, binary, with a Rust scalar,
//! `where`, `cast`, reductions and the softmax family.

use super::*;

impl Gen {
    pub(crate) fn unary(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        if xi.dtype == DType::Bool {
            let info = xi.clone();
            self.push(Step::Unary(UnaryOp::Not, x), info);
            return true;
        }
        let mut choices = vec![UnaryOp::Neg, UnaryOp::Abs, UnaryOp::Relu];
        if xi.exact {
            choices.extend([UnaryOp::Floor, UnaryOp::Ceil, UnaryOp::Round, UnaryOp::Sign]);
        }
        if xi.is_float() {
            choices.extend([
                UnaryOp::Exp,
                UnaryOp::Tanh,
                UnaryOp::Sigmoid,
                UnaryOp::Erf,
                UnaryOp::Sin,
                UnaryOp::Cos,
                UnaryOp::Exp,
                UnaryOp::Tanh,
                UnaryOp::Softplus,
            ]);
            if xi.exact {
                choices.extend([
                    UnaryOp::Log,
                    UnaryOp::Sqrt,
                    UnaryOp::Rsqrt,
                    UnaryOp::Reciprocal,
                ]);
            }
        }
        let u = self.rng.pick(&choices);
        let info = unary_info(u, &xi);
        self.push(Step::Unary(u, x), info);
        true
    }

    /// A partner for `x` of dtype `d` broadcastable with it (maybe `x` itself).
    pub(crate) fn partner(&mut self, x: usize, need_exact: bool) -> Option<usize> {
        let cap = self.cap;
        let xi = self.infos[x].clone();
        self.pick(|i| {
            i.dtype == xi.dtype
                && (!need_exact || i.exact)
                && broadcast(&xi.shape, &i.shape)
                    .is_some_and(|s| s.iter().product::<usize>() <= cap)
        })
    }

    pub(crate) fn binary(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let op = if xi.dtype == DType::Bool {
            self.rng
                .pick(&[BinaryOp::And, BinaryOp::Or, BinaryOp::Eq, BinaryOp::Ne])
        } else {
            let mut ops = vec![
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Max,
                BinaryOp::Min,
                BinaryOp::Add,
                BinaryOp::Mul,
            ];
            if xi.exact {
                ops.extend([
                    BinaryOp::Div,
                    BinaryOp::Eq,
                    BinaryOp::Ne,
                    BinaryOp::Lt,
                    BinaryOp::Le,
                    BinaryOp::Gt,
                    BinaryOp::Ge,
                ]);
                if xi.is_float() {
                    ops.push(BinaryOp::Pow);
                }
            }
            self.rng.pick(&ops)
        };
        let need_exact = matches!(
            op,
            BinaryOp::Div
                | BinaryOp::Pow
                | BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
        );
        let Some(y) = self.partner(x, need_exact) else {
            return false;
        };
        let yi = self.infos[y].clone();
        let shape = broadcast(&xi.shape, &yi.shape).unwrap();
        let info = binary_info(op, &xi, &yi, shape);
        self.push(Step::Binary(op, x, y), info);
        true
    }

    pub(crate) fn scalar(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let (op, s, rev) = match xi.dtype {
            DType::Bool => (
                self.rng
                    .pick(&[BinaryOp::And, BinaryOp::Or, BinaryOp::Eq, BinaryOp::Ne]),
                Sc::B(self.rng.chance(0.5)),
                false,
            ),
            d => {
                let mut ops = vec![
                    (BinaryOp::Add, false),
                    (BinaryOp::Sub, false),
                    (BinaryOp::Mul, false),
                    (BinaryOp::Div, false),
                    (BinaryOp::Max, false),
                    (BinaryOp::Min, false),
                    (BinaryOp::Sub, true),
                ];
                if xi.exact {
                    ops.extend([
                        (BinaryOp::Div, true),
                        (BinaryOp::Lt, false),
                        (BinaryOp::Ge, false),
                        (BinaryOp::Eq, false),
                        (BinaryOp::Ne, false),
                    ]);
                    if d.is_float() {
                        ops.push((BinaryOp::Pow, false));
                    }
                }
                let (op, rev) = self.rng.pick(&ops);
                let s = if d.is_float() && self.rng.chance(0.7) {
                    let vals: &[f64] = if op == BinaryOp::Pow {
                        &[2.0, 0.5, 3.0, 1.0, 0.0]
                    } else if op == BinaryOp::Div && !rev && !xi.exact {
                        &[2.0, -0.5, 4.0, 1.0, 0.75]
                    } else {
                        &[0.0, 1.0, 0.5, -1.5, 2.0, 3.0, -0.25, 0.1]
                    };
                    Sc::F(self.rng.pick(vals))
                } else {
                    let vals: &[i64] = if op == BinaryOp::Div && !rev && !xi.exact {
                        &[2, -4, 1]
                    } else {
                        &[0, 1, 2, -3, 7]
                    };
                    Sc::I(self.rng.pick(vals))
                };
                (op, s, rev)
            }
        };
        let si = Info::exact(xi.dtype, Vec::new(), s.mag(), false);
        let info = if rev {
            binary_info(op, &si, &xi, xi.shape.clone())
        } else {
            binary_info(op, &xi, &si, xi.shape.clone())
        };
        self.push(Step::Scalar(op, x, s, rev), info);
        true
    }

    pub(crate) fn where_(&mut self) -> bool {
        let cap = self.cap;
        let cond = match self.pick(|i| i.dtype == DType::Bool) {
            Some(c) => c,
            None => {
                let Some(x) = self.pick(|i| i.is_numeric() && i.exact) else {
                    return false;
                };
                let xi = self.infos[x].clone();
                let si = Info::exact(xi.dtype, Vec::new(), 0.0, false);
                let info = binary_info(BinaryOp::Gt, &xi, &si, xi.shape.clone());
                self.push(Step::Scalar(BinaryOp::Gt, x, Sc::I(0), false), info)
            }
        };
        let ci = self.infos[cond].clone();
        let Some(x) = self.pick(|i| {
            broadcast(&ci.shape, &i.shape).is_some_and(|s| s.iter().product::<usize>() <= cap)
        }) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let Some(y) = self.pick(|i| {
            i.dtype == xi.dtype
                && broadcast(&ci.shape, &i.shape)
                    .and_then(|s| broadcast(&s, &xi.shape))
                    .is_some_and(|s| s.iter().product::<usize>() <= cap)
        }) else {
            return false;
        };
        let yi = self.infos[y].clone();
        let shape = broadcast(&broadcast(&ci.shape, &xi.shape).unwrap(), &yi.shape).unwrap();
        let info = join_info(&[&xi, &yi], shape);
        self.push(Step::Where(cond, x, y), info);
        true
    }

    pub(crate) fn cast(&mut self) -> bool {
        let Some(x) = self.pick(|_| true) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let targets: Vec<DType> = if xi.exact {
            vec![DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool]
        } else {
            vec![DType::F32, DType::F64]
        };
        let targets: Vec<DType> = targets.into_iter().filter(|&d| d != xi.dtype).collect();
        if targets.is_empty() {
            return false;
        }
        let d = self.rng.pick(&targets);
        let info = cast_info(&xi, d);
        self.push(Step::Cast(x, d), info);
        true
    }

    pub(crate) fn reduce(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_numeric() && i.rank() >= 1) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let mut ops = vec![ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Sum];
        if xi.is_float() {
            ops.push(ReduceOp::Mean);
        }
        if xi.exact {
            ops.extend([ReduceOp::ArgMax, ReduceOp::ArgMin]);
        }
        if !xi.is_float() || xi.numel() <= 64 {
            ops.push(ReduceOp::Prod);
        }
        let op = self.rng.pick(&ops);
        if op.is_arg() {
            let nonzero: Vec<usize> = (0..r).filter(|&a| xi.shape[a] > 0).collect();
            if nonzero.is_empty() {
                return false;
            }
            let a = self.rng.pick(&nonzero);
            let keep = self.rng.chance(0.5);
            let mut shape = xi.shape.clone();
            if keep {
                shape[a] = 1;
            } else {
                shape.remove(a);
            }
            let info = Info::exact(DType::I64, shape, INF, false);
            let axis = self.rng.axis_of(a, r);
            self.push(Step::ArgReduce(op, x, axis, keep), info);
            return true;
        }
        if op != ReduceOp::Prod && self.rng.chance(0.15) {
            let all: Vec<usize> = (0..r).collect();
            let info = reduce_info(op, &xi, &all, false);
            self.push(Step::ReduceAll(op, x), info);
            return true;
        }
        let mut axes: Vec<usize> = (0..r).filter(|_| self.rng.chance(0.5)).collect();
        if axes.is_empty() && self.rng.chance(0.8) {
            axes.push(self.rng.below(r));
        }
        // Shuffle the order (the method sorts them).
        if axes.len() > 1 && self.rng.chance(0.5) {
            axes.reverse();
        }
        let keep = self.rng.chance(0.5);
        let info = reduce_info(op, &xi, &axes, keep);
        let axes_i: Vec<isize> = axes.iter().map(|&a| self.rng.axis_of(a, r)).collect();
        self.push(Step::Reduce(op, x, axes_i, keep), info);
        true
    }

    pub(crate) fn softmax_like(&mut self) -> bool {
        let Some(x) = self.pick(|i| i.is_float() && i.rank() >= 1) else {
            return false;
        };
        let xi = self.infos[x].clone();
        let r = xi.rank();
        let u = unit_roundoff(xi.dtype);
        let te = tr_rel(UnaryOp::Exp, xi.dtype);
        let tl = tr_rel(UnaryOp::Log, xi.dtype);
        let ax = self.rng.below(r);
        let axis = self.rng.axis_of(ax, r);
        match self.rng.below(3) {
            0 => {
                let n = xi.shape[ax];
                let err = ((4.0 * xi.aerr()).exp() - 1.0) + 2.0 * te + 4.0 * gamma(n, u) + 16.0 * u;
                // Softmax values lie in [0, 1]; an operand without a finite bound may differ
                // in where its NaNs are, so it stays unchecked.
                let err = if xi.aerr().is_finite() {
                    err.min(1.0)
                } else {
                    INF
                };
                let info = xi.tainted(xi.shape.clone(), 1.0, err, 0.0, xi.nonfinite);
                self.push(Step::Softmax(x, axis), info);
            }
            1 => {
                let n = xi.shape[ax];
                let ln = (n.max(1) as f64).ln();
                let err = 3.0 * xi.aerr() + te + 2.0 * gamma(n, u) + tl * ln + 16.0 * u;
                let mag = 2.0 * xi.mag + ln;
                let info = xi.tainted(xi.shape.clone(), mag, err, 4.0 * u, true);
                self.push(Step::LogSoftmax(x, axis), info);
            }
            _ => {
                let mut axes: Vec<usize> = (0..r).filter(|_| self.rng.chance(0.5)).collect();
                if axes.is_empty() {
                    axes.push(ax);
                }
                let keep = self.rng.chance(0.5);
                let n: usize = axes.iter().map(|&a| xi.shape[a]).product();
                let ln = (n.max(1) as f64).ln();
                let err = 3.0 * xi.aerr() + te + 2.0 * gamma(n, u) + tl * ln + 16.0 * u;
                let shape = reduced_shape(&xi.shape, &axes, keep);
                let info = xi.tainted(shape, xi.mag + ln, err, 4.0 * u, true);
                let axes_i: Vec<isize> = axes.iter().map(|&a| self.rng.axis_of(a, r)).collect();
                self.push(Step::LogSumExp(x, axes_i, keep), info);
            }
        }
        true
    }
}
