//! Random valid programs (the generator of `lazyjit_lowering::testing::generator`) against
//! the reference, with the tolerances the generator's error analysis gives each output.

use super::*;
use lazyjit_lowering::testing::generator::{build, Spec, StepSpec, BASES, STEP_KINDS};
use proptest::prelude::*;

fn spec_strategy() -> impl Strategy<Value = Spec> {
    let step = (
        0..STEP_KINDS.len() as u8,
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(kind, x, y, z, w)| StepSpec { kind, x, y, z, w });
    (
        0..BASES.len() as u8,
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..5),
        prop::collection::vec(step, 1..18),
        any::<u64>(),
    )
        .prop_map(|(base, params, steps, seed)| Spec {
            base,
            params,
            steps,
            seed,
        })
}

fn random_program_cases() -> u32 {
    lazyjit_lowering::testing::diff_cases()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: random_program_cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random valid programs (random parameters, then random ops on existing values: views,
    /// reductions feeding elementwise ops, multi-use values, several outputs) agree with the
    /// reference. `LAZYJIT_DIFF_CASES=N` runs N cases.
    #[test]
    fn random_programs_match_reference(spec in spec_strategy()) {
        let (p, inputs, tols) = build(&spec);
        // Half the cases without Cranelift's optimiser (a different lowering of the same CLIF).
        let options = CompileOptions {
            opt_level: if spec.seed & 1 == 1 { OptLevel::None } else { OptLevel::Speed },
            ..opts()
        };
        if let Err(m) = check_with(&p, &inputs, &tols, &options) {
            prop_assert!(false, "{}", m);
        }
    }
}

/// Statistics of the generator (run with `--ignored --nocapture`): which ops the random
/// programs contain, so that a change that starves an op is noticed.
#[test]
#[ignore]
fn random_program_op_histogram() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut hist = std::collections::BTreeMap::new();
    let (mut insts, mut tainted_outs, mut outs) = (0, 0, 0);
    for _ in 0..500 {
        let spec = spec_strategy().new_tree(&mut runner).unwrap().current();
        let (p, _, tols) = build(&spec);
        for i in &p.insts {
            *hist.entry(i.op.name()).or_insert(0) += 1;
        }
        let plan = compile(&p, &opts()).unwrap().plan().clone();
        for k in &plan.kernels {
            *hist
                .entry(match k.kind {
                    lazyjit_lowering::codegen::KernelKind::Loop => "[loop kernel]",
                    lazyjit_lowering::codegen::KernelKind::Reduce => "[reduce kernel]",
                    lazyjit_lowering::codegen::KernelKind::MatMul => "[matmul kernel]",
                    lazyjit_lowering::codegen::KernelKind::Check => "[check kernel]",
                    lazyjit_lowering::codegen::KernelKind::Scatter => "[scatter kernel]",
                })
                .or_insert(0) += 1;
        }
        for g in &plan.groups {
            if g.kernels.len() > 1 {
                *hist.entry("[row group]").or_insert(0) += 1;
            }
        }
        for st in &plan.storage {
            if matches!(st, lazyjit_lowering::codegen::Storage::Scratch { .. }) {
                *hist.entry("[row scratch]").or_insert(0) += 1;
            }
        }
        insts += p.insts.len();
        outs += tols.len();
        tainted_outs += tols.iter().filter(|t| !matches!(t, Tol::Exact)).count();
    }
    println!("{insts} instructions, {outs} outputs ({tainted_outs} with a tolerance)");
    for (k, v) in hist {
        println!("{k:>14} {v}");
    }
}
