//! A program's inputs from the command line: `.npy` files by name or position, `.npz` and
//! safetensors archives by name, and seeded random data, each checked against its
//! parameter's dtype and shape.

use crate::fail::{chain, Fail, Result};
use lazyjit::lowering::program::is_param_name;
use lazyjit::lowering::{DType, Element, Program, Tensor, TensorType};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};

/// Where a program's inputs come from.
#[derive(clap::Args, Debug)]
pub struct InputArgs {
    /// An `.npy` input: `NAME=FILE.npy` for parameter `%NAME`, or `FILE.npy` for the next
    /// parameter not given by name (in the program's order). Repeatable.
    #[arg(long = "input", value_name = "[NAME=]FILE.npy")]
    pub input: Vec<String>,
    /// An `.npz` or `.safetensors` file whose arrays are matched to parameters by name.
    /// Repeatable.
    #[arg(long, value_name = "FILE.npz|FILE.safetensors")]
    pub inputs: Vec<PathBuf>,
    /// Fill every parameter without an input with seeded random data: floats uniform in
    /// [-2, 2), integers in 0..INT_HIGH, bools fair coins.
    #[arg(long)]
    pub random: bool,
    /// Seed of --random.
    #[arg(long, default_value_t = 0, requires = "random")]
    pub seed: u64,
    /// --random draws integers from 0..INT_HIGH.
    #[arg(long, default_value_t = 10, requires = "random")]
    pub int_high: i64,
}

/// One input before it is matched: its tensor and where it came from (for messages).
struct Given {
    name: Option<String>,
    tensor: Tensor,
    from: String,
}

/// One tensor per parameter of `p`, in order. Every file is read before matching, so
/// the first problem reported is the first file that cannot be read.
pub fn gather(p: &Program, args: &InputArgs) -> Result<Vec<Tensor>> {
    let mut named: Vec<Given> = Vec::new();
    let mut positional: Vec<Given> = Vec::new();
    for spec in &args.input {
        match spec.split_once('=') {
            Some((name, file)) if is_param_name(name.trim_start_matches('%')) => {
                named.push(Given {
                    name: Some(name.trim_start_matches('%').to_string()),
                    tensor: read_npy(Path::new(file))?,
                    from: file.to_string(),
                })
            }
            _ => positional.push(Given {
                name: None,
                tensor: read_npy(Path::new(spec))?,
                from: spec.clone(),
            }),
        }
    }
    for archive in &args.inputs {
        for (name, tensor) in read_archive(archive)? {
            named.push(Given {
                from: format!("{} (array `{name}`)", archive.display()),
                name: Some(name),
                tensor,
            });
        }
    }

    let mut slots: Vec<Option<Given>> = (0..p.params.len()).map(|_| None).collect();
    for g in named {
        let name = g.name.clone().unwrap_or_default();
        let Some(i) = p.params.iter().position(|q| q.name == name) else {
            return Err(Fail::input(format!(
                "input `{name}` from {} matches no parameter of the program (its parameters: {})",
                g.from,
                param_list(p)
            )));
        };
        if let Some(prev) = &slots[i] {
            return Err(Fail::input(format!(
                "parameter %{name} is given twice: by {} and by {}",
                prev.from, g.from
            )));
        }
        slots[i] = Some(g);
    }
    let mut free = (0..slots.len())
        .filter(|&i| slots[i].is_none())
        .collect::<Vec<_>>()
        .into_iter();
    for g in positional {
        let Some(i) = free.next() else {
            return Err(Fail::input(format!(
                "input {} matches no parameter: every parameter already has an input ({})",
                g.from,
                param_list(p)
            )));
        };
        slots[i] = Some(g);
    }

    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut out = Vec::with_capacity(slots.len());
    for (slot, param) in slots.into_iter().zip(&p.params) {
        let t = match slot {
            Some(g) => {
                if g.tensor.ty() != &param.ty {
                    return Err(Fail::input(format!(
                        "input {} is {} but parameter %{} is {}",
                        g.from,
                        g.tensor.ty(),
                        param.name,
                        param.ty
                    )));
                }
                g.tensor
            }
            None if args.random => random_tensor(&param.ty, &mut rng, args.int_high)?,
            None => {
                return Err(Fail::input(format!(
                    "parameter %{} ({}) has no input: give --input {}=FILE.npy, --inputs FILE.npz or --random",
                    param.name, param.ty, param.name
                )))
            }
        };
        out.push(t);
    }
    Ok(out)
}

fn param_list(p: &Program) -> String {
    if p.params.is_empty() {
        return "none".to_string();
    }
    p.params
        .iter()
        .map(|q| format!("%{}: {}", q.name, q.ty))
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_npy(path: &Path) -> Result<Tensor> {
    lazyjit::io::read_npy(path).map_err(|e| Fail::input(chain(&e)))
}

fn read_archive(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let read = match path.extension().and_then(|e| e.to_str()) {
        Some("npz") => lazyjit::io::read_npz(path),
        Some("safetensors") => lazyjit::io::read_safetensors(path),
        _ => {
            return Err(Fail::input(format!(
                "{}: --inputs takes an .npz or .safetensors file",
                path.display()
            )))
        }
    };
    read.map_err(|e| Fail::input(chain(&e)))
}

/// Seeded random data of type `ty` (the distributions of `--random`). The tensor is
/// allocated first, fallibly, so a huge parameter is an error rather than an abort.
pub fn random_tensor(ty: &TensorType, rng: &mut StdRng, int_high: i64) -> Result<Tensor> {
    let mut t = Tensor::zeros(ty.clone())
        .map_err(|e| Fail::input(format!("random input {ty}: {}", chain(&e))))?;
    let high = int_high.clamp(1, i32::MAX as i64);
    let filled = match ty.dtype {
        DType::F32 => fill(&mut t, || rng.random_range(-2.0f32..2.0)),
        DType::F64 => fill(&mut t, || rng.random_range(-2.0f64..2.0)),
        DType::I32 => fill(&mut t, || rng.random_range(0..high) as i32),
        DType::I64 => fill(&mut t, || rng.random_range(0..int_high.max(1))),
        DType::Bool => fill(&mut t, || rng.random_bool(0.5)),
    };
    filled.map_err(|e| Fail::input(format!("random input {ty}: {}", chain(&e))))?;
    Ok(t)
}

fn fill<T: Element>(
    t: &mut Tensor,
    mut draw: impl FnMut() -> T,
) -> std::result::Result<(), lazyjit::lowering::Error> {
    t.as_mut_slice::<T>()?.iter_mut().for_each(|x| *x = draw());
    Ok(())
}
