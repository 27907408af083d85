//! The case generator: inputs, then value-producing ops (`elementwise.rs`, `layout.rs`) with
//! syncs, reads and `mark_step`s between them, each op with its error bound (`info.rs`).

mod elementwise;
mod layout;

use super::*;

/// Element cap of generated values (small cases; large cases use `LARGE_NUMEL`).
pub(crate) const MAX_NUMEL: usize = 256;
/// Element cap of the large cases.
pub(crate) const LARGE_NUMEL: usize = 8192;

pub(crate) struct Gen {
    pub(crate) rng: Rng,
    pub(crate) infos: Vec<Info>,
    pub(crate) steps: Vec<Step>,
    pub(crate) specials: bool,
    /// Element cap of new values.
    pub(crate) cap: usize,
}

impl Gen {
    pub(crate) fn push(&mut self, step: Step, info: Info) -> usize {
        debug_assert!(step.produces_value());
        self.steps.push(step);
        self.infos.push(info);
        self.infos.len() - 1
    }

    /// A value satisfying `pred`, biased towards recent ones (deeper graphs).
    pub(crate) fn pick(&mut self, pred: impl Fn(&Info) -> bool) -> Option<usize> {
        let ok: Vec<usize> = (0..self.infos.len())
            .filter(|&i| pred(&self.infos[i]))
            .collect();
        if ok.is_empty() {
            return None;
        }
        if self.rng.chance(0.5) {
            let tail = &ok[ok.len().saturating_sub(3)..];
            return Some(self.rng.pick(tail));
        }
        Some(self.rng.pick(&ok))
    }

    pub(crate) fn float_data(&mut self, n: usize) -> Vec<f64> {
        let specials = [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            0.0,
            -0.0,
            0.5,
            -1.5,
            1e-40,
        ];
        (0..n)
            .map(|_| {
                if self.specials && self.rng.chance(0.1) {
                    self.rng.pick(&specials)
                } else if self.rng.chance(0.1) {
                    // Ties and small integers (round, floor, comparisons).
                    self.rng.below(9) as f64 * 0.5 - 2.0
                } else {
                    self.rng.unit() * 4.0 - 2.0
                }
            })
            .collect()
    }

    pub(crate) fn leaf(&mut self, dtype: DType, shape: Vec<usize>) -> (Leaf, Info) {
        let n: usize = shape.iter().product();
        let (data, mag, nonfinite) = match dtype {
            DType::F32 => {
                let v = self.float_data(n);
                let nf = v.iter().any(|x| !x.is_finite());
                (
                    Data::F32(v.into_iter().map(|x| x as f32).collect()),
                    2.0,
                    nf,
                )
            }
            DType::F64 => {
                let v = self.float_data(n);
                let nf = v.iter().any(|x| !x.is_finite());
                (Data::F64(v), 2.0, nf)
            }
            DType::I32 => (
                Data::I32((0..n).map(|_| self.rng.below(11) as i32 - 5).collect()),
                5.0,
                false,
            ),
            DType::I64 => (
                Data::I64((0..n).map(|_| self.rng.below(11) as i64 - 5).collect()),
                5.0,
                false,
            ),
            DType::Bool => (
                Data::Bool((0..n).map(|_| self.rng.chance(0.5)).collect()),
                1.0,
                false,
            ),
        };
        let info = Info::exact(dtype, shape.clone(), mag, nonfinite);
        (Leaf { shape, data }, info)
    }

    pub(crate) fn variant(&mut self, base: &[usize]) -> Vec<usize> {
        let mut s = base.to_vec();
        if !s.is_empty() && self.rng.chance(0.2) {
            let k = 1 + self.rng.below(s.len());
            s.drain(..k);
        }
        for d in s.iter_mut() {
            if self.rng.chance(0.25) {
                *d = 1;
            }
        }
        s
    }

    pub(crate) fn random_shape(&mut self) -> Vec<usize> {
        let rank = self.rng.below(4);
        (0..rank).map(|_| 1 + self.rng.below(4)).collect()
    }

    /// One value-producing op (and any helper ops it needs); `false` if the chosen kind
    /// does not apply to the current values.
    pub(crate) fn op(&mut self) -> bool {
        match self.rng.below(100) {
            0..=13 => self.unary(),
            14..=29 => self.binary(),
            30..=39 => self.scalar(),
            40..=43 => self.where_(),
            44..=47 => self.cast(),
            48..=59 => self.reduce(),
            60..=65 => self.softmax_like(),
            66..=83 => self.layout(),
            84..=88 => self.matmul(),
            89..=92 => self.index(),
            93..=95 => self.clamp(),
            _ => self.constant(),
        }
    }
}

impl Gen {
    /// A sync, read or mark_step.
    pub(crate) fn sync_step(&mut self) {
        let n = self.infos.len();
        match self.rng.below(10) {
            0..=5 => {
                let k = 1 + self.rng.below(3);
                let mut xs: Vec<usize> = (0..k).map(|_| n - 1 - self.rng.below(n.min(4))).collect();
                if self.rng.chance(0.1) {
                    xs.push(xs[0]);
                }
                self.steps.push(Step::Sync(xs));
            }
            6..=8 => {
                let x = n - 1 - self.rng.below(n.min(3));
                self.steps.push(Step::Read(x));
            }
            _ => self.steps.push(Step::Mark),
        }
    }
}

pub(crate) fn gen_case(seed: u64) -> Case {
    let mut g = Gen {
        rng: Rng::new(seed),
        infos: Vec::new(),
        steps: Vec::new(),
        specials: false,
        cap: MAX_NUMEL,
    };
    g.specials = g.rng.chance(0.3);
    // Most cases are tiny; some have rows long enough for the vectorised loops, their
    // remainders and the 4 x 4 accumulators of reductions.
    let large = g.rng.chance(0.15);
    let (rank, dim) = if large {
        (1 + g.rng.below(2), 70)
    } else {
        (g.rng.below(4), 4)
    };
    if large {
        g.cap = LARGE_NUMEL;
    }
    let mut base: Vec<usize> = (0..rank).map(|_| 1 + g.rng.below(dim)).collect();
    if rank > 0 && g.rng.chance(0.03) {
        let k = g.rng.below(rank);
        base[k] = 0;
    }
    let n_inputs = 1 + g.rng.below(3);
    let mut inputs = Vec::new();
    for i in 0..n_inputs {
        let dtype = if i == 0 && g.rng.chance(0.85) {
            DType::F32
        } else {
            match g.rng.below(20) {
                0..=12 => DType::F32,
                13..=15 => DType::I32,
                16..=17 => DType::Bool,
                18 => DType::F64,
                _ => DType::I64,
            }
        };
        let shape = if i == 0 {
            base.clone()
        } else {
            g.variant(&base)
        };
        let (leaf, info) = g.leaf(dtype, shape);
        inputs.push(leaf);
        g.infos.push(info);
    }
    let n_ops = 1 + g.rng.below(12);
    let mut made = 0;
    let mut tries = 0;
    while made < n_ops && tries < 200 {
        tries += 1;
        if made > 0 && g.rng.chance(0.15) {
            g.sync_step();
        }
        let before = g.infos.len();
        if g.op() {
            made += g.infos.len() - before;
        }
    }
    let n = g.infos.len();
    let mut outputs = vec![n - 1];
    for _ in 0..g.rng.below(3) {
        outputs.push(g.rng.below(n));
    }
    let special_scalars = g.rng.chance(0.8);
    let opt_none = g.rng.chance(0.25);
    Case {
        seed,
        inputs,
        steps: g.steps,
        outputs,
        infos: g.infos,
        special_scalars,
        opt_none,
    }
}
