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
/// A non-affine building block of an [`Idx`]: a variable, or a floor division or remainder the
/// simplifier could not fold away.
pub enum Atom {
    /// The value of a loop or index variable.
    Var(Var),
    /// Floor division of a non-negative expression by a positive constant.
    Div(Box<Idx>, i64),
    /// Remainder of a non-negative expression by a positive constant.
    Rem(Box<Idx>, i64),
}

/// `c + Σ coef·atom`, terms sorted by atom, no zero coefficients.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Idx {
    /// The constant term.
    pub c: i64,
    /// `(atom, coefficient)` pairs: sorted by atom, each atom once, no zero coefficient.
    pub terms: Vec<(Atom, i64)>,
}

impl Idx {
    /// The constant `c`.
    pub fn konst(c: i64) -> Idx {
        Idx {
            c,
            terms: Vec::new(),
        }
    }

    /// The variable `v` alone (coefficient 1, no constant).
    pub fn var(v: Var) -> Idx {
        Idx {
            c: 0,
            terms: vec![(Atom::Var(v), 1)],
        }
    }

    /// `Some(c)` when the expression is a constant (no terms), else `None`.
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
        // k·floor(e/k) + (e mod k) = e: a dim split by a reshape and merged back.
        for i in 0..out.len() {
            let Atom::Div(e, k) = &out[i].0 else {
                continue;
            };
            let (ci, k) = (out[i].1, *k);
            if ci % k != 0 {
                continue;
            }
            let rem = Atom::Rem(e.clone(), k);
            if let Some(j) = out.iter().position(|(a, cj)| *a == rem && *cj * k == ci) {
                let e = e.scale(ci / k);
                let rest: Vec<(Atom, i64)> = out
                    .iter()
                    .enumerate()
                    .filter(|&(t, _)| t != i && t != j)
                    .map(|(_, x)| x.clone())
                    .collect();
                return Idx::from_terms(c, rest).add(&e);
            }
        }
        Idx { c, terms: out }
    }

    /// `self + o`, with like terms merged (and a split `k·floor(e/k) + e mod k` joined back to `e`).
    pub fn add(&self, o: &Idx) -> Idx {
        let mut t = self.terms.clone();
        t.extend(o.terms.iter().cloned());
        Idx::from_terms(self.c + o.c, t)
    }

    /// `self + k`.
    pub fn add_const(&self, k: i64) -> Idx {
        Idx {
            c: self.c + k,
            terms: self.terms.clone(),
        }
    }

    /// `k · self` (the zero expression when `k` is 0).
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
        if let Some((g, x, _)) = rest.factor(k, ext) {
            return q.add(&x.div(k / g, ext));
        }
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
        if let Some((g, x, small)) = e.factor(k, ext) {
            return x.rem(k / g, ext).scale(g).add(&small);
        }
        Idx {
            c: 0,
            terms: vec![(Atom::Rem(Box::new(e), k), 1)],
        }
    }

    /// Splits a non-negative `self` as `g·x + small` with `g` a proper divisor of `k` (the
    /// largest that works) and `0 <= small < g` over the variables' ranges, when it can:
    /// then `floor(self / k) = floor(x / (k/g))` and `self mod k = g·(x mod k/g) + small`.
    /// Index expressions of a split dim that is merged again take this form: reading
    /// `[.., 12, 2, 12, 2]` pooling windows back as `[.., 24, 24]` divides `24·h + w` by 48
    /// with `w < 24`, which is `floor(h / 2)`.
    fn factor(&self, k: i64, ext: &[usize]) -> Option<(i64, Idx, Idx)> {
        // Candidates: the common factors of `k` with each coefficient (a `g` that divides
        // no coefficient leaves every term in `small`, and then `small` is `self`, which does
        // not fit below `k`).
        let mut divisors: Vec<i64> = self
            .terms
            .iter()
            .map(|(_, c)| gcd(k, c.abs()))
            .filter(|&g| g > 1 && g < k)
            .collect();
        divisors.sort_unstable();
        divisors.dedup();
        for &g in divisors.iter().rev() {
            let (mut big, mut small) = (Vec::new(), Vec::new());
            for (a, c) in &self.terms {
                if c % g == 0 {
                    big.push((a.clone(), c / g));
                } else {
                    small.push((a.clone(), *c));
                }
            }
            if big.is_empty() {
                continue;
            }
            let small = Idx::from_terms(self.c.rem_euclid(g), small);
            let (lo, hi) = small.range(ext);
            if lo >= 0 && hi < g {
                return Some((g, Idx::from_terms(self.c.div_euclid(g), big), small));
            }
        }
        None
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

    /// Whether `v` occurs anywhere, also inside a division or remainder.
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

fn gcd(mut a: i64, mut b: i64) -> i64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
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
    fn split_and_merged_back_folds_to_the_original() {
        // [24, 24] read as [12, 2, 12, 2] and merged back: (h, w) in 0..24.
        let ext = [24, 24];
        let (h, w) = (Idx::var(0), Idx::var(1));
        let lin = h.scale(24).add(&w);
        let parts = [
            lin.div(48, &ext),
            lin.div(24, &ext).rem(2, &ext),
            lin.div(2, &ext).rem(12, &ext),
            lin.rem(2, &ext),
        ];
        assert_eq!(parts[0], h.div(2, &ext));
        assert_eq!(parts[1], h.rem(2, &ext));
        let back = parts[0]
            .scale(48)
            .add(&parts[1].scale(24))
            .add(&parts[2].scale(2))
            .add(&parts[3]);
        assert_eq!(back, lin);
        // Only matching pairs fold: 2·floor(w/2) + (w mod 3) stays.
        let odd = w.div(2, &ext).scale(2).add(&w.rem(3, &ext));
        assert!(odd.affine_coef(1).is_none());
        // A remainder that does not fit below the factor keeps the division.
        let e = h.scale(24).add(&w.scale(2)); // 2·w reaches 46 > 24
        assert!(e.div(48, &ext).affine_coef(1).is_none());
    }

    #[test]
    fn factored_div_and_rem_agree_with_integer_arithmetic() {
        // Exhaustive over small ranges: every expression a·x + b·y + c divided by k.
        let ext = [5, 7];
        for k in [2i64, 4, 6, 12, 35] {
            for a in [1i64, 2, 3, 6, 7] {
                for b in [1i64, 2, 4, 5, 12] {
                    for c in [0i64, 1, 3, 5] {
                        let e = Idx::var(0).scale(a).add(&Idx::var(1).scale(b)).add_const(c);
                        let (d, r) = (e.div(k, &ext), e.rem(k, &ext));
                        for x in 0..5 {
                            for y in 0..7 {
                                let val = a * x + b * y + c;
                                assert_eq!(eval(&d, &[x, y]), val.div_euclid(k), "{e:?} / {k}");
                                assert_eq!(eval(&r, &[x, y]), val.rem_euclid(k), "{e:?} % {k}");
                            }
                        }
                    }
                }
            }
        }
    }

    fn eval(e: &Idx, vars: &[i64]) -> i64 {
        e.c + e
            .terms
            .iter()
            .map(|(a, k)| {
                k * match a {
                    Atom::Var(v) => vars[*v as usize],
                    Atom::Div(x, q) => eval(x, vars).div_euclid(*q),
                    Atom::Rem(x, q) => eval(x, vars).rem_euclid(*q),
                }
            })
            .sum::<i64>()
    }

    #[test]
    fn div_of_small_range_is_zero() {
        let ext = [3];
        assert_eq!(Idx::var(0).div(4, &ext), Idx::konst(0));
        assert_eq!(Idx::var(0).rem(4, &ext), Idx::var(0));
    }
}
