//! Autograd: gradient checks of every differentiable op against central finite differences
//! in f64 (`gradcheck.rs`, `ops.rs`, `layout.rs`), how ties split gradients (`ties.rs`),
//! and the API's behaviour: accumulation, no_grad, detach, assign, released graphs, syncs
//! in mid-step, one compile per training step (`api.rs`).

#[path = "../support/mod.rs"]
mod support;

mod api;
mod gradcheck;
mod layout;
mod ops;
mod ties;
