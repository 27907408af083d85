//! TEMPORARY stand-in for the wide functions (replaced by `wide/` when it lands): applies the
//! out-of-line f32 copy element by element.
#![allow(missing_docs)]

use super::{library, MathFn};
use cranelift_codegen::ir::types;
use std::sync::atomic::{AtomicUsize, Ordering};

pub type WideFn = unsafe extern "C" fn(x: *mut f32, n: usize);

static ADDR: [AtomicUsize; 10] = [const { AtomicUsize::new(0) }; 10];

unsafe extern "C" fn apply<const I: usize>(x: *mut f32, n: usize) {
    let f: extern "C" fn(f32) -> f32 =
        unsafe { std::mem::transmute(ADDR[I].load(Ordering::Relaxed)) };
    for i in 0..n {
        unsafe { *x.add(i) = f(*x.add(i)) };
    }
}

pub fn wide_fn(f: MathFn, fma: bool) -> Option<WideFn> {
    let k = match f {
        MathFn::Exp => 0,
        MathFn::Log => 1,
        MathFn::Tanh => 2,
        MathFn::Sigmoid => 3,
        MathFn::Erf => 4,
        _ => return None,
    } * 2
        + fma as usize;
    let a = library::address(f, types::F32, fma)?;
    ADDR[k].store(a, Ordering::Relaxed);
    Some(match k {
        0 => apply::<0>,
        1 => apply::<1>,
        2 => apply::<2>,
        3 => apply::<3>,
        4 => apply::<4>,
        5 => apply::<5>,
        6 => apply::<6>,
        7 => apply::<7>,
        8 => apply::<8>,
        _ => apply::<9>,
    })
}
