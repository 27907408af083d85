//! A lazy tensor whose value cannot be allocated gives an `Err` (not a process abort) when it
//! runs on the reference interpreter: as the `reference` backend, and as the eager fallback.
//!
//! `expand` of one element to 2^48 is a lazy view until it is computed; computing it needs
//! 2^50 bytes, more than any allocator can provide.

use lazyjit::{config, BackendKind, Error, LazyTensor};

const HUGE: usize = 1 << 48;

#[test]
fn reference_backend_returns_an_error() {
    let r = config::with(
        |c| c.backend = BackendKind::Reference,
        || -> lazyjit::Result<Vec<f32>> {
            let x = LazyTensor::from_vec(vec![1.0f32], &[1])?;
            x.expand(&[HUGE])?.exp()?.to_vec::<f32>()
        },
    );
    match r {
        Err(Error::Execute { source, .. }) => {
            let m = source.to_string();
            assert!(m.contains("reference interpreter: expand"), "{m}");
            assert!(m.contains("cannot allocate"), "{m}");
        }
        other => panic!("expected an execution error, got {other:?}"),
    }
}

#[test]
fn eager_fallback_returns_an_error() {
    let r = config::with(
        |c| {
            c.force_fallback.insert("expand".to_string());
        },
        || -> lazyjit::Result<LazyTensor> {
            let x = LazyTensor::from_vec(vec![1.0f32], &[1])?;
            x.expand(&[HUGE])
        },
    );
    match r {
        Err(Error::Data { op, message, .. }) => {
            assert_eq!(op, "expand");
            assert!(message.contains("eager fallback failed"), "{message}");
            assert!(message.contains("cannot allocate"), "{message}");
        }
        other => panic!("expected a data error, got {other:?}"),
    }
}
