//! Deterministic inputs from the `# input:` directives (seeded SplitMix64).

use super::*;
use lazyjit_lowering::testing::rng::Rng;

// ---------------------------------------------------------------------------------------------
// Deterministic inputs
// ---------------------------------------------------------------------------------------------

pub(crate) fn parse_literal(s: &str, dtype: DType) -> Result<f64, String> {
    let v = match s {
        "true" => 1.0,
        "false" => 0.0,
        "nan" => f64::NAN,
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse::<f64>().map_err(|_| format!("bad literal '{s}'"))?,
    };
    if !dtype.is_float() && (v.fract() != 0.0 || !v.is_finite()) {
        return Err(format!("literal '{s}' does not fit {dtype}"));
    }
    Ok(v)
}

pub(crate) fn make_input(
    ty: &TensorType,
    spec: &InputSpec,
    rng: &mut Rng,
) -> Result<Tensor, String> {
    let n = ty.shape.numel();
    let vals: Vec<f64> = match spec {
        InputSpec::Literal(words) => {
            if words.len() != n {
                return Err(format!(
                    "{} literal values for a {ty} input ({n} elements)",
                    words.len()
                ));
            }
            words
                .iter()
                .map(|w| parse_literal(w, ty.dtype))
                .collect::<Result<_, _>>()?
        }
        InputSpec::Uniform(lo, hi) => (0..n).map(|_| lo + (hi - lo) * rng.unit()).collect(),
        InputSpec::Int(lo, hi) => (0..n).map(|_| rng.int_in(*lo, *hi) as f64).collect(),
        InputSpec::Bool => (0..n).map(|_| (rng.next_u64() >> 63) as f64).collect(),
    };
    let shape = ty.shape.clone();
    let t = match ty.dtype {
        DType::F32 => Tensor::from_vec(vals.iter().map(|&v| v as f32).collect(), shape),
        DType::F64 => Tensor::from_vec(vals, shape),
        DType::I32 => Tensor::from_vec(vals.iter().map(|&v| v as i32).collect(), shape),
        DType::I64 => Tensor::from_vec(vals.iter().map(|&v| v as i64).collect(), shape),
        DType::Bool => Tensor::from_vec(vals.iter().map(|&v| v != 0.0).collect(), shape),
    };
    t.map_err(|e| e.to_string())
}

pub(crate) fn default_spec(dtype: DType) -> InputSpec {
    match dtype {
        DType::F32 | DType::F64 => InputSpec::Uniform(-2.0, 2.0),
        DType::I32 | DType::I64 => InputSpec::Int(-10, 10),
        DType::Bool => InputSpec::Bool,
    }
}

pub(crate) fn make_inputs(p: &Program, d: &Directives) -> Result<Vec<Tensor>, String> {
    p.params
        .iter()
        .enumerate()
        .map(|(i, param)| {
            let spec = d
                .inputs
                .get(&param.name)
                .cloned()
                .unwrap_or_else(|| default_spec(param.ty.dtype));
            // One stream per parameter, so adding a parameter leaves the others' data alone.
            let mut rng =
                Rng::from_state(d.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (i as u64 + 1) << 32);
            make_input(&param.ty, &spec, &mut rng)
                .map_err(|e| format!("input %{}: {e}", param.name))
        })
        .collect()
}
