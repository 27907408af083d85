//! An image-classification dataset in MNIST's layout (a folder holding
//! `{train,t10k}-{images-idx3,labels-idx1}-ubyte`, each maybe `.gz`), and its batches as lazy
//! tensors.

use super::idx::{read_idx, IdxArray};
use crate::error::{Error, Result, SourceLoc};
use crate::tensor::LazyTensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// Which part of the dataset to load.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Split {
    /// `train-*` files.
    Train,
    /// `t10k-*` files.
    Test,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "t10k",
        }
    }
}

/// MNIST's pixel mean and standard deviation (of pixels scaled to `[0, 1]`), the
/// normalisation the PyTorch MNIST example applies.
pub const MNIST_MEAN: f32 = 0.1307;
/// MNIST's pixel standard deviation (of pixels scaled to `[0, 1]`); see [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// Images and their labels.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// `count * rows * cols` pixels, row-major, 0..=255.
    pixels: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl Dataset {
    /// Loads one split from an MNIST-layout folder: real MNIST (28x28) or the bundled 8x8
    /// digits (`examples/data/digits`). The two files must agree on the image count. Every
    /// label byte is a class index; [`Dataset::classes`] says how many classes there are.
    ///
    /// ```
    /// use lazyjit::data::{Dataset, Split};
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
    /// let test = Dataset::load(&dir, Split::Test)?;
    /// assert_eq!((test.len(), test.rows(), test.cols(), test.classes()), (297, 8, 8, 10));
    /// let (x, y) = test.batch(&[0, 1, 2])?;
    /// assert_eq!((x.shape(), y.shape()), (&[3, 1, 8, 8][..], &[3][..]));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn load(dir: &Path, split: Split) -> Result<Dataset> {
        let p = split.prefix();
        let images_path = dir.join(format!("{p}-images-idx3-ubyte"));
        let labels_path = dir.join(format!("{p}-labels-idx1-ubyte"));
        let images = read_idx(&images_path)?;
        let labels = read_idx(&labels_path)?;
        Dataset::from_idx(images, labels).map_err(|message| Error::Dataset {
            path: dir.display().to_string(),
            message: format!("{p} split: {message}"),
        })
    }

    /// A dataset from an images array `[count, rows, cols]` and a labels array `[count]`.
    pub fn from_idx(images: IdxArray, labels: IdxArray) -> std::result::Result<Dataset, String> {
        let [n, rows, cols] = images.dims[..] else {
            return Err(format!(
                "images must have 3 dimensions [count, rows, cols], got {:?}",
                images.dims
            ));
        };
        if labels.dims.len() != 1 || labels.dims[0] != n {
            return Err(format!(
                "labels must have dimensions [{n}] to match {n} images, got {:?}",
                labels.dims
            ));
        }
        Ok(Dataset {
            pixels: images.data,
            labels: labels.data,
            rows,
            cols,
        })
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image height in pixels.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Image width in pixels.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// One more than the largest label (0 for an empty dataset).
    pub fn classes(&self) -> usize {
        self.labels.iter().max().map_or(0, |&m| m as usize + 1)
    }

    /// The label of image `i`.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.get(i).copied()
    }

    /// Images `indices` as an `f32[b, 1, rows, cols]` tensor normalised as the PyTorch MNIST
    /// example does (`(x / 255 - MNIST_MEAN) / MNIST_STD`), and their labels as `i64[b]`.
    #[track_caller]
    pub fn batch(&self, indices: &[usize]) -> Result<(LazyTensor, LazyTensor)> {
        self.batch_shifted(indices, 0, 0)
    }

    /// [`Dataset::batch`] with each image translated by a random whole number of pixels,
    /// up to `max_shift` each way along each axis (uniform, drawn from `seed`), the pixels
    /// shifted in being background (0). The usual augmentation for small digit sets: the
    /// network sees a slightly different image of each digit every epoch. `max_shift` 0 is
    /// [`Dataset::batch`].
    ///
    /// ```
    /// use lazyjit::data::{Dataset, Split};
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
    /// let test = Dataset::load(&dir, Split::Test)?;
    /// let (plain, _) = test.batch(&[0, 1])?;
    /// let (moved, labels) = test.batch_shifted(&[0, 1], 1, 7)?;
    /// assert_eq!(moved.shape(), plain.shape());
    /// assert_eq!(labels.to_vec::<i64>()?, test.batch(&[0, 1])?.1.to_vec::<i64>()?);
    /// assert_eq!(moved.to_vec::<f32>()?, test.batch_shifted(&[0, 1], 1, 7)?.0.to_vec::<f32>()?);
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    #[track_caller]
    pub fn batch_shifted(
        &self,
        indices: &[usize],
        max_shift: usize,
        seed: u64,
    ) -> Result<(LazyTensor, LazyTensor)> {
        let px = self.rows * self.cols;
        let mut rng = StdRng::seed_from_u64(seed);
        let m = max_shift.min(self.rows.max(self.cols)) as i64;
        let mut x = Vec::with_capacity(indices.len() * px);
        let mut y = Vec::with_capacity(indices.len());
        for &i in indices {
            let Some(&label) = self.labels.get(i) else {
                return Err(Error::op(
                    "batch",
                    format!("index {i} is out of range for {} images", self.len()),
                    SourceLoc::caller(),
                ));
            };
            let img = &self.pixels[i * px..(i + 1) * px];
            let (dy, dx) = if m > 0 {
                (
                    rng.random_range(-m..=m) as isize,
                    rng.random_range(-m..=m) as isize,
                )
            } else {
                (0, 0)
            };
            for r in 0..self.rows as isize {
                for c in 0..self.cols as isize {
                    let (sr, sc) = (r - dy, c - dx);
                    let inside = (0..self.rows as isize).contains(&sr)
                        && (0..self.cols as isize).contains(&sc);
                    let p = if inside {
                        img[sr as usize * self.cols + sc as usize]
                    } else {
                        0
                    };
                    x.push((p as f32 / 255.0 - MNIST_MEAN) / MNIST_STD);
                }
            }
            y.push(label as i64);
        }
        let b = indices.len();
        Ok((
            LazyTensor::from_vec(x, &[b, 1, self.rows, self.cols])?,
            LazyTensor::from_vec(y, &[b])?,
        ))
    }

    /// The image indices in batches of `batch_size` (the last one shorter when the size does
    /// not divide the count): in order, or shuffled by `seed` — one seed gives one order on
    /// every run; pass a different seed (e.g. seed + epoch) to reshuffle each epoch.
    ///
    /// ```
    /// use lazyjit::data::{Dataset, Split};
    /// let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits");
    /// let test = Dataset::load(&dir, Split::Test)?;
    /// let batches = test.batch_indices(64, Some(1));
    /// assert_eq!(batches.len(), 5); // 4 x 64 + 41
    /// assert_eq!(batches[4].len(), 41);
    /// assert_eq!(batches, test.batch_indices(64, Some(1)));
    /// # Ok::<(), lazyjit::Error>(())
    /// ```
    pub fn batch_indices(&self, batch_size: usize, seed: Option<u64>) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if let Some(s) = seed {
            order.shuffle(&mut StdRng::seed_from_u64(s));
        }
        order
            .chunks(batch_size.max(1))
            .map(|c| c.to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/digits")
    }

    #[test]
    fn the_bundled_digits_load_with_all_ten_classes() {
        let train = Dataset::load(&digits(), Split::Train).unwrap();
        let test = Dataset::load(&digits(), Split::Test).unwrap();
        assert_eq!((train.len(), test.len()), (1500, 297));
        assert_eq!((train.rows(), train.cols(), train.classes()), (8, 8, 10));
        let mut seen = [0usize; 10];
        for i in 0..train.len() {
            seen[train.label(i).unwrap() as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 100), "{seen:?}");
    }

    #[test]
    fn shifted_batches_are_translations_of_the_images() {
        let test = Dataset::load(&digits(), Split::Test).unwrap();
        let idx: Vec<usize> = (0..40).collect();
        let (plain, labels) = test.batch(&idx).unwrap();
        assert_eq!(
            test.batch_shifted(&idx, 0, 3)
                .unwrap()
                .0
                .to_vec::<f32>()
                .unwrap(),
            plain.to_vec::<f32>().unwrap()
        );
        let (moved, moved_labels) = test.batch_shifted(&idx, 1, 3).unwrap();
        assert_eq!(
            moved_labels.to_vec::<i64>().unwrap(),
            labels.to_vec::<i64>().unwrap()
        );
        let (plain, moved) = (
            plain.to_vec::<f32>().unwrap(),
            moved.to_vec::<f32>().unwrap(),
        );
        let background = (0.0 - MNIST_MEAN) / MNIST_STD;
        let mut seen = std::collections::BTreeSet::new();
        for k in 0..idx.len() {
            let (a, b) = (&plain[k * 64..(k + 1) * 64], &moved[k * 64..(k + 1) * 64]);
            let at = |img: &[f32], r: i32, c: i32| {
                if (0..8).contains(&r) && (0..8).contains(&c) {
                    img[(r * 8 + c) as usize]
                } else {
                    background
                }
            };
            let shift = (-1..=1)
                .flat_map(|dy| (-1..=1).map(move |dx| (dy, dx)))
                .find(|&(dy, dx)| {
                    (0..8).all(|r| (0..8).all(|c| b[(r * 8 + c) as usize] == at(a, r - dy, c - dx)))
                });
            seen.insert(shift.unwrap_or_else(|| panic!("image {k} is no one-pixel translation")));
        }
        assert!(seen.len() >= 5, "shifts vary between images: {seen:?}");
    }

    #[test]
    fn batches_are_normalised_and_labelled() {
        let test = Dataset::load(&digits(), Split::Test).unwrap();
        let (x, y) = test.batch(&[5, 0]).unwrap();
        let xs = x.to_vec::<f32>().unwrap();
        let lo = (0.0 - MNIST_MEAN) / MNIST_STD;
        let hi = (1.0 - MNIST_MEAN) / MNIST_STD;
        assert!(xs.iter().all(|&v| v >= lo - 1e-6 && v <= hi + 1e-6));
        assert!(xs.iter().any(|&v| v > 0.0) && xs.contains(&lo));
        let ys = y.to_vec::<i64>().unwrap();
        assert_eq!(
            ys,
            [test.label(5).unwrap() as i64, test.label(0).unwrap() as i64]
        );
        let e = test.batch(&[297]).unwrap_err().to_string();
        assert!(
            e.contains("index 297 is out of range for 297 images"),
            "{e}"
        );
    }

    #[test]
    fn shuffling_is_seeded_and_covers_every_image() {
        let train = Dataset::load(&digits(), Split::Train).unwrap();
        let a = train.batch_indices(64, Some(7));
        let b = train.batch_indices(64, Some(8));
        assert_eq!(a, train.batch_indices(64, Some(7)));
        assert_ne!(a, b);
        let mut all: Vec<usize> = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1500).collect::<Vec<_>>());
        assert_eq!(
            train.batch_indices(1000, None)[0],
            (0..1000).collect::<Vec<_>>()
        );
    }

    #[test]
    fn mismatched_files_are_reported() {
        let img = IdxArray {
            dims: vec![2, 2, 2],
            data: vec![0; 8],
        };
        let lab = IdxArray {
            dims: vec![3],
            data: vec![0; 3],
        };
        let e = Dataset::from_idx(img.clone(), lab).unwrap_err();
        assert!(
            e.contains("labels must have dimensions [2] to match 2 images"),
            "{e}"
        );
        let flat = IdxArray {
            dims: vec![8],
            data: vec![0; 8],
        };
        let e = Dataset::from_idx(flat, img).unwrap_err();
        assert!(e.contains("images must have 3 dimensions"), "{e}");
    }
}
