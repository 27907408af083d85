//! The host ISA, detected and built once per setting and shared by every compile.
//!
//! Building an ISA reads the CPU's features and parses Cranelift's settings; a fresh process
//! pays that once, and every later compile (and the out-of-line math library) reuses it.

use super::options::OptLevel;
use crate::error::Error;
use cranelift_codegen::isa::{OwnedTargetIsa, TargetIsa};
use cranelift_codegen::settings::{self, Configurable};
use std::sync::Mutex;

/// The ISAs built so far, by (optimisation level, CLIF verifier on).
static ISAS: Mutex<Vec<((OptLevel, bool), OwnedTargetIsa)>> = Mutex::new(Vec::new());

/// The host ISA for `opt_level`, with Cranelift's IR verifier on when `verify`.
pub(crate) fn host_isa(opt_level: OptLevel, verify: bool) -> Result<OwnedTargetIsa, Error> {
    let key = (opt_level, verify);
    // A panic elsewhere while the lock was held leaves a valid list: entries are only pushed.
    let mut isas = ISAS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, isa)) = isas.iter().find(|(k, _)| *k == key) {
        return Ok(isa.clone());
    }
    let isa = build(opt_level, verify)?;
    isas.push((key, isa.clone()));
    Ok(isa)
}

fn build(opt_level: OptLevel, verify: bool) -> Result<OwnedTargetIsa, Error> {
    let mut fb = settings::builder();
    let set = |fb: &mut settings::Builder, k: &str, v: &str| {
        fb.set(k, v)
            .map_err(|e| Error::Codegen(format!("setting {k}={v}: {e}")))
    };
    let lvl = match opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
    };
    set(&mut fb, "opt_level", lvl)?;
    set(
        &mut fb,
        "enable_verifier",
        if verify { "true" } else { "false" },
    )?;
    set(&mut fb, "is_pic", "false")?;
    set(&mut fb, "use_colocated_libcalls", "false")?;
    cranelift_native::builder()
        .map_err(|e| Error::Codegen(format!("host ISA: {e}")))?
        .finish(settings::Flags::new(fb))
        .map_err(|e| Error::Codegen(format!("host ISA: {e}")))
}

/// Whether the ISA-specific boolean flag `name` (such as `has_fma`) is set.
pub(crate) fn has_flag(isa: &dyn TargetIsa, name: &str) -> bool {
    isa.isa_flags()
        .iter()
        .any(|f| f.name == name && f.as_bool().unwrap_or(false))
}
