//! Symbolic index expressions over loop variables.
//!
//! A fused kernel evaluates its root at a multi-index of loop variables and pushes index
//! expressions down through views (reshape, permute, expand, slice, pad, ...) to the buffers
//! it finally loads from. Keeping indices affine where possible is what turns a chain of views
//! into one strided load: `Idx` is an affine combination of atoms, and the smart constructors
//! [`Idx::div`] / [`Idx::rem`] fold floor-division and remainder back into affine form whenever
//! the known variable ranges allow it (e.g. the split and merge of contiguous dims by reshape).

/// An index variable: a loop counter or a runtime-computed (clamped) index. Every variable
/// ranges over `0..extent`.
pub type Var = u32;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    Var(Var),
    /// Floor division of a non-negative expression by a positive constant.
    Div(Box<Idx>, i64),
    /// Remainder of a non-negative expression by a positive constant.
    Rem(Box<Idx>, i64),
}

/// `c + Σ coef·atom`, terms sorted by atom, no zero coefficients.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Idx {
    pub c: i64,
    pub terms: Vec<(Atom, i64)>,
}

impl Idx {
    pub fn konst(c: i64) -> Idx {
        Idx {
            c,
            terms: Vec::new(),
        }
    }

    pub fn var(v: Var) -> Idx {
        Idx {
            c: 0,
            terms: vec![(Atom::Var(v), 1)],
        }
    }

    pub fn as_const(&self) -> Option<i64> {
        self.terms.is_empty().then_some(self.c)
    }

    fn from_terms(c: i64, mut terms: Vec<(Atom, i64)>) -> Idx {
        terms.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Atom, i64)> = Vec::with_capacity(terms.len());
        for (a, k) in terms {
            match out.last_mut() {
                Some((la, lk)) if *la == a => *lk += k,
                _ => out.push((a, k)),
            }
        }
        out.retain(|t| t.1 != 0);
        Idx { c, terms: out }
    }

    pub fn add(&self, o: &Idx) -> Idx {
        let mut t = self.terms.clone();
        t.extend(o.terms.iter().cloned());
        Idx::from_terms(self.c + o.c, t)
    }

    pub fn add_const(&self, k: i64) -> Idx {
        Idx {
            c: self.c + k,
            terms: self.terms.clone(),
        }
    }

    pub fn scale(&self, k: i64) -> Idx {
        if k == 0 {
            return Idx::konst(0);
        }
        Idx {
            c: self.c * k,
            terms: self.terms.iter().map(|(a, c)| (a.clone(), c * k)).collect(),
        }
    }

    /// Inclusive value range given variable extents.
    pub fn range(&self, ext: &[usize]) -> (i64, i64) {
        let (mut lo, mut hi) = (self.c, self.c);
        for (a, k) in &self.terms {
            let (alo, ahi) = a.range(ext);
            if *k >= 0 {
                lo += k * alo;
                hi += k * ahi;
            } else {
                lo += k * ahi;
                hi += k * alo;
            }
        }
        (lo, hi)
    }

    /// `floor(self / k)` for `k > 0`, simplified when the ranges allow.
    pub fn div(&self, k: i64, ext: &[usize]) -> Idx {
        if k == 1 {
            return self.clone();
        }
        let (qc, rc) = (self.c.div_euclid(k), self.c.rem_euclid(k));
        let mut q = Vec::new();
        let mut r = Vec::new();
        for (a, c) in &self.terms {
            if c % k == 0 {
                q.push((a.clone(), c / k));
            } else {
                r.push((a.clone(), *c));
            }
        }
        let rest = Idx::from_terms(rc, r);
        let (lo, hi) = rest.range(ext);
        if lo >= 0 && hi < k {
            return Idx::from_terms(qc, q);
        }
        // floor((q·k + rest) / k) = q + floor(rest / k) for integer q.
        let q = Idx::from_terms(qc, q);
        q.add(&Idx {
            c: 0,
            terms: vec![(Atom::Div(Box::new(rest), k), 1)],
        })
    }

    /// `self mod k` for `k > 0` and non-negative `self`, simplified when the ranges allow.
    pub fn rem(&self, k: i64, ext: &[usize]) -> Idx {
        if k == 1 {
            return Idx::konst(0);
        }
        let terms = self
            .terms
            .iter()
            .filter(|(_, c)| c % k != 0)
            .cloned()
            .collect::<Vec<_>>();
        let e = Idx::from_terms(self.c.rem_euclid(k), terms);
        let (lo, hi) = e.range(ext);
        if lo >= 0 && hi < k {
            return e;
        }
        Idx {
            c: 0,
            terms: vec![(Atom::Rem(Box::new(e), k), 1)],
        }
    }

    /// Coefficient of `v` if `v` occurs only as a top-level affine term (`Some(0)` if absent),
    /// `None` if it occurs inside a division or remainder.
    pub fn affine_coef(&self, v: Var) -> Option<i64> {
        let mut coef = 0;
        for (a, k) in &self.terms {
            match a {
                Atom::Var(x) if *x == v => coef = *k,
                Atom::Var(_) => {}
                Atom::Div(e, _) | Atom::Rem(e, _) => {
                    if e.mentions(v) {
                        return None;
                    }
                }
            }
        }
        Some(coef)
    }

    pub fn mentions(&self, v: Var) -> bool {
        self.terms.iter().any(|(a, _)| a.mentions(v))
    }

    /// Substitutes `v := v + d` everywhere.
    pub fn shift(&self, v: Var, d: i64, ext: &[usize]) -> Idx {
        if d == 0 || !self.mentions(v) {
            return self.clone();
        }
        let mut out = Idx::konst(self.c);
        for (a, k) in &self.terms {
            let t = match a {
                Atom::Var(x) if *x == v => Idx::var(v).add_const(d),
                Atom::Var(x) => Idx::var(*x),
                Atom::Div(e, q) => e.shift(v, d, ext).div(*q, ext),
                Atom::Rem(e, q) => e.shift(v, d, ext).rem(*q, ext),
            };
            out = out.add(&t.scale(*k));
        }
        out
    }
}

impl Atom {
    fn range(&self, ext: &[usize]) -> (i64, i64) {
        match self {
            Atom::Var(v) => (0, (ext[*v as usize] as i64 - 1).max(0)),
            Atom::Div(e, k) => {
                let (lo, hi) = e.range(ext);
                (lo.div_euclid(*k), hi.div_euclid(*k))
            }
            Atom::Rem(_, k) => (0, k - 1),
        }
    }

    fn mentions(&self, v: Var) -> bool {
        match self {
            Atom::Var(x) => *x == v,
            Atom::Div(e, _) | Atom::Rem(e, _) => e.mentions(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_split_and_merge_fold_to_affine() {
        // vars: i0 in 0..4096, i1 in 0..1024; linear = 1024*i0 + i1
        let ext = [4096, 1024];
        let lin = Idx::var(0).scale(1024).add(&Idx::var(1));
        assert_eq!(lin.div(1024, &ext).rem(4096, &ext), Idx::var(0));
        assert_eq!(lin.rem(1024, &ext), Idx::var(1));
        // split of the inner dim into 32x32 stays a true div/rem of i1 only
        let hi = lin.div(32, &ext).rem(32, &ext);
        assert!(hi.affine_coef(1).is_none());
        assert_eq!(hi.affine_coef(0), Some(0));
        assert!(lin.div(32, &ext).affine_coef(1).is_none());
    }

    #[test]
    fn shift_substitutes() {
        let ext = [8, 8];
        let e = Idx::var(1).scale(3).add_const(2);
        assert_eq!(e.shift(1, 2, &ext), Idx::var(1).scale(3).add_const(8));
        assert_eq!(e.affine_coef(1), Some(3));
        assert_eq!(e.affine_coef(0), Some(0));
    }

    #[test]
    fn div_of_small_range_is_zero() {
        let ext = [3];
        assert_eq!(Idx::var(0).div(4, &ext), Idx::konst(0));
        assert_eq!(Idx::var(0).rem(4, &ext), Idx::var(0));
    }
}
