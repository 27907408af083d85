//! Running a case: applying each step to `LazyTensor`s, under one backend.

use super::*;

pub(crate) fn apply(step: &Step, v: &[LazyTensor]) -> lazyjit::Result<Option<LazyTensor>> {
    macro_rules! sc {
        ($s:expr, |$a:ident| $e:expr) => {
            match $s {
                Sc::F($a) => $e,
                Sc::I($a) => $e,
                Sc::B($a) => $e,
            }
        };
    }
    let t = match step {
        Step::Unary(u, x) => {
            let x = &v[*x];
            match u {
                UnaryOp::Neg => x.neg(),
                UnaryOp::Abs => x.abs(),
                UnaryOp::Exp => x.exp(),
                UnaryOp::Log => x.log(),
                UnaryOp::Sqrt => x.sqrt(),
                UnaryOp::Rsqrt => x.rsqrt(),
                UnaryOp::Reciprocal => x.reciprocal(),
                UnaryOp::Tanh => x.tanh(),
                UnaryOp::Sigmoid => x.sigmoid(),
                UnaryOp::Relu => x.relu(),
                UnaryOp::Erf => x.erf(),
                UnaryOp::Sin => x.sin(),
                UnaryOp::Cos => x.cos(),
                UnaryOp::Floor => x.floor(),
                UnaryOp::Ceil => x.ceil(),
                UnaryOp::Round => x.round(),
                UnaryOp::Sign => x.sign(),
                UnaryOp::Not => x.logical_not(),
                UnaryOp::Softplus => x.softplus(),
            }?
        }
        Step::Binary(b, x, y) => {
            let (x, y) = (&v[*x], &v[*y]);
            match b {
                BinaryOp::Add => x.add(y),
                BinaryOp::Sub => x.sub(y),
                BinaryOp::Mul => x.mul(y),
                BinaryOp::Div => x.div(y),
                BinaryOp::Pow => x.pow(y),
                BinaryOp::Max => x.maximum(y),
                BinaryOp::Min => x.minimum(y),
                BinaryOp::Eq => x.eq(y),
                BinaryOp::Ne => x.ne(y),
                BinaryOp::Lt => x.lt(y),
                BinaryOp::Le => x.le(y),
                BinaryOp::Gt => x.gt(y),
                BinaryOp::Ge => x.ge(y),
                BinaryOp::And => x.logical_and(y),
                BinaryOp::Or => x.logical_or(y),
            }?
        }
        Step::Scalar(b, x, s, rev) => {
            let x = &v[*x];
            match (b, rev) {
                (BinaryOp::Sub, true) => sc!(*s, |a| x.rsub_scalar(a)),
                (BinaryOp::Div, true) => sc!(*s, |a| x.rdiv_scalar(a)),
                (BinaryOp::Add, _) => sc!(*s, |a| x.add_scalar(a)),
                (BinaryOp::Sub, _) => sc!(*s, |a| x.sub_scalar(a)),
                (BinaryOp::Mul, _) => sc!(*s, |a| x.mul_scalar(a)),
                (BinaryOp::Div, _) => sc!(*s, |a| x.div_scalar(a)),
                (BinaryOp::Pow, _) => sc!(*s, |a| x.pow_scalar(a)),
                (BinaryOp::Max, _) => sc!(*s, |a| x.maximum_scalar(a)),
                (BinaryOp::Min, _) => sc!(*s, |a| x.minimum_scalar(a)),
                (BinaryOp::Eq, _) => sc!(*s, |a| x.eq_scalar(a)),
                (BinaryOp::Ne, _) => sc!(*s, |a| x.ne_scalar(a)),
                (BinaryOp::Lt, _) => sc!(*s, |a| x.lt_scalar(a)),
                (BinaryOp::Le, _) => sc!(*s, |a| x.le_scalar(a)),
                (BinaryOp::Gt, _) => sc!(*s, |a| x.gt_scalar(a)),
                (BinaryOp::Ge, _) => sc!(*s, |a| x.ge_scalar(a)),
                (BinaryOp::And, _) => sc!(*s, |a| x.logical_and_scalar(a)),
                (BinaryOp::Or, _) => sc!(*s, |a| x.logical_or_scalar(a)),
            }?
        }
        Step::Where(c, x, y) => LazyTensor::where_(&v[*c], &v[*x], &v[*y])?,
        Step::Cast(x, d) => v[*x].cast(*d)?,
        Step::Reduce(op, x, axes, k) => {
            let x = &v[*x];
            match op {
                ReduceOp::Sum => x.sum(axes, *k),
                ReduceOp::Mean => x.mean(axes, *k),
                ReduceOp::Max => x.max(axes, *k),
                ReduceOp::Min => x.min(axes, *k),
                ReduceOp::Prod => x.prod(axes, *k),
                ReduceOp::ArgMax | ReduceOp::ArgMin => unreachable!(),
            }?
        }
        Step::ReduceAll(op, x) => {
            let x = &v[*x];
            match op {
                ReduceOp::Sum => x.sum_all(),
                ReduceOp::Mean => x.mean_all(),
                ReduceOp::Max => x.max_all(),
                ReduceOp::Min => x.min_all(),
                _ => unreachable!(),
            }?
        }
        Step::ArgReduce(op, x, a, k) => {
            if *op == ReduceOp::ArgMax {
                v[*x].argmax(*a, *k)?
            } else {
                v[*x].argmin(*a, *k)?
            }
        }
        Step::LogSumExp(x, axes, k) => v[*x].logsumexp(axes, *k)?,
        Step::Softmax(x, a) => v[*x].softmax(*a)?,
        Step::LogSoftmax(x, a) => v[*x].log_softmax(*a)?,
        Step::Reshape(x, s) => v[*x].reshape(s)?,
        Step::Permute(x, p) => v[*x].permute(p)?,
        Step::Transpose(x, a, b) => v[*x].transpose(*a, *b)?,
        Step::Expand(x, s) => v[*x].expand(s)?,
        Step::Slice(x, a, b, c) => v[*x].slice(a, b, c)?,
        Step::Narrow(x, a, s, l) => v[*x].narrow(*a, *s, *l)?,
        Step::Concat(xs, a) => {
            let ts: Vec<&LazyTensor> = xs.iter().map(|&i| &v[i]).collect();
            LazyTensor::concat(&ts, *a)?
        }
        Step::Pad(x, lo, hi, s) => sc!(*s, |a| v[*x].pad(lo, hi, a))?,
        Step::Flatten(x, a, b) => v[*x].flatten(*a, *b)?,
        Step::Squeeze(x, a) => v[*x].squeeze(*a)?,
        Step::Unsqueeze(x, a) => v[*x].unsqueeze(*a)?,
        Step::MatMul(x, y) => v[*x].matmul(&v[*y])?,
        Step::IndexSelect(x, a, l) => v[*x].index_select(*a, &l.make()?)?,
        Step::Gather(x, a, l) => v[*x].gather(*a, &l.make()?)?,
        Step::Clamp(x, lo, hi) => match (lo, hi) {
            (Sc::F(a), Sc::F(b)) => v[*x].clamp(*a, *b)?,
            (Sc::I(a), Sc::I(b)) => v[*x].clamp(*a, *b)?,
            _ => unreachable!("clamp bounds of one kind"),
        },
        Step::Full(s, sc) => match sc {
            Sc::F(a) => LazyTensor::full(s, *a as f32)?,
            Sc::I(a) => LazyTensor::full(s, *a as i32)?,
            Sc::B(a) => LazyTensor::full(s, *a)?,
        },
        Step::Const(ConstKind::Zeros, s, d) => LazyTensor::zeros(s, *d)?,
        Step::Const(ConstKind::Ones, s, d) => LazyTensor::ones(s, *d)?,
        Step::ArangeF32(a, b, c) => LazyTensor::arange(*a, *b, *c)?,
        Step::ArangeI32(a, b, c) => LazyTensor::arange(*a, *b, *c)?,
        Step::Sync(xs) => {
            let ts: Vec<&LazyTensor> = xs.iter().map(|&i| &v[i]).collect();
            lazyjit::sync(&ts)?;
            return Ok(None);
        }
        Step::Read(x) => {
            v[*x].to_tensor()?;
            return Ok(None);
        }
        Step::Mark => {
            lazyjit::mark_step()?;
            return Ok(None);
        }
    };
    Ok(Some(t))
}

/// Runs `case` on `backend` and returns every value, read after the final syncs.
pub(crate) fn execute(case: &Case, backend: BackendKind) -> Result<Vec<Tensor>, String> {
    config::with(
        |c| {
            c.backend = backend;
            c.special_scalars = case.special_scalars;
            c.opt_level = if case.opt_none {
                OptLevel::None
            } else {
                OptLevel::Speed
            };
        },
        || {
            let mut v: Vec<LazyTensor> = Vec::new();
            for (i, l) in case.inputs.iter().enumerate() {
                v.push(l.make().map_err(|e| format!("input v{i}: {e}"))?);
            }
            for (k, step) in case.steps.iter().enumerate() {
                let out = v.len();
                match apply(step, &v) {
                    Ok(Some(t)) => {
                        let want = &case.infos[out];
                        if t.dtype() != want.dtype || t.shape() != want.shape.as_slice() {
                            return Err(format!(
                                "step {k} `{}` gave {:?}{:?}, the generator expected {:?}{:?} \
                                 (a generator bug or an op bug)",
                                step.describe(out),
                                t.dtype(),
                                t.shape(),
                                want.dtype,
                                want.shape
                            ));
                        }
                        v.push(t);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(format!("step {k} `{}`: {e}", step.describe(out))),
                }
            }
            let outs: Vec<&LazyTensor> = case.outputs.iter().map(|&i| &v[i]).collect();
            lazyjit::sync(&outs).map_err(|e| format!("final sync: {e}"))?;
            let pending: Vec<&LazyTensor> = v.iter().filter(|t| t.is_pending()).collect();
            lazyjit::sync(&pending).map_err(|e| format!("sync of the pending rest: {e}"))?;
            v.iter()
                .enumerate()
                .map(|(i, t)| t.to_tensor().map_err(|e| format!("reading v{i}: {e}")))
                .collect()
        },
    )
}

pub(crate) fn execute_caught(case: &Case, backend: BackendKind) -> Result<Vec<Tensor>, String> {
    match catch_unwind(AssertUnwindSafe(|| execute(case, backend))) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "(non-string panic)".into());
            Err(format!("panicked: {msg}"))
        }
    }
}
