//! Reference interpreter: runs a program op by op on ndarray; the semantics oracle.
