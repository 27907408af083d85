//! Typed reads (`to_vec1/2/3`, `to_array` of a fixed dimensionality) and `Display`.

use lazyjit::{LazyTensor, Result};
use ndarray::{array, Ix0, Ix2, Ix3};

#[test]
fn nested_vectors_follow_the_shape_including_empty_dimensions() -> Result<()> {
    let t = LazyTensor::arange(0i32, 12, 1)?.reshape(&[2, 3, 2])?;
    assert_eq!(
        t.to_vec3::<i32>()?,
        vec![
            vec![vec![0, 1], vec![2, 3], vec![4, 5]],
            vec![vec![6, 7], vec![8, 9], vec![10, 11]]
        ]
    );
    let rows = LazyTensor::from_vec(Vec::<f32>::new(), &[3, 0])?;
    assert_eq!(rows.to_vec2::<f32>()?, vec![Vec::<f32>::new(); 3]);
    let none = LazyTensor::from_vec(Vec::<f32>::new(), &[0, 4])?;
    assert!(none.to_vec2::<f32>()?.is_empty());
    assert_eq!(
        LazyTensor::from_vec(vec![true], &[1])?.to_vec1::<bool>()?,
        vec![true]
    );
    let e = t.to_vec2::<i32>().unwrap_err().to_string();
    assert!(
        e.contains("to_vec2") && e.contains("rank 2") && e.contains("i32[2, 3, 2]"),
        "{e}"
    );
    assert!(t.to_vec3::<i64>().is_err(), "wrong element type");
    Ok(())
}

#[test]
fn arrays_of_a_fixed_dimensionality() -> Result<()> {
    let t = LazyTensor::from_vec(vec![1.5f64, 2.5, 3.5, 4.5], &[2, 2])?.neg()?;
    assert_eq!(
        t.to_array::<f64, Ix2>()?,
        array![[-1.5, -2.5], [-3.5, -4.5]]
    );
    assert_eq!(t.sum_all()?.to_array::<f64, Ix0>()?.into_scalar(), -12.0);
    let e = t.to_array::<f64, Ix3>().unwrap_err().to_string();
    assert!(e.contains("to_array") && e.contains("rank 3"), "{e}");
    Ok(())
}

#[test]
fn display_syncs_and_prints_values_then_type() -> Result<()> {
    let t = LazyTensor::from_vec(vec![1i64, -20, 300], &[3])?.mul_scalar(2i64)?;
    assert!(t.is_pending());
    assert_eq!(t.to_string(), "[  2, -40, 600] i64[3]");
    assert!(!t.is_pending(), "displaying computed it");
    assert_eq!(format!("{t:#}"), "[  2, -40, 600]");
    let big = LazyTensor::zeros(&[50, 50], lazyjit::DType::F32)?;
    let s = big.to_string();
    assert_eq!(s.lines().count(), 7, "summarised to edge rows: {s}");
    assert!(s.ends_with("f32[50, 50]") && s.contains("..."), "{s}");
    Ok(())
}
