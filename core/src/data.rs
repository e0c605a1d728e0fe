//! Calibration data: anything that can yield batches (one array per model input) in a fixed
//! order, as many times as the calibration needs passes.

use crate::internal::*;
use crate::npy::read_npy_f32;
use ndarray::{ArrayD, Axis};
use std::path::{Path, PathBuf};

/// One batch: one array per model input, each with a leading batch axis.
pub type Batch = Vec<ArrayD<f32>>;

/// A re-iterable, ordered source of calibration batches.
pub trait CalibrationData: Sync {
    /// Names the source in errors (a path, or `<memory>`).
    fn name(&self) -> String;
    /// Number of batches, if known (for progress bars).
    fn num_batches(&self) -> Option<usize>;
    /// A fresh pass over the batches, always in the same order.
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_>;
}

/// Samples held in memory for a single-input model, split into batches of `batch_size`.
///
/// ```
/// use calibr8_core::{CalibrationData, InMemory};
/// let samples = ndarray::ArrayD::<f32>::zeros(vec![10, 1, 8, 8]);
/// let data = InMemory::new(samples, 4)?;
/// assert_eq!(data.num_batches(), Some(3));
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct InMemory {
    samples: ArrayD<f32>,
    batch_size: usize,
}

impl InMemory {
    /// `samples` has a leading sample axis.
    pub fn new(samples: ArrayD<f32>, batch_size: usize) -> Result<InMemory> {
        check_samples("<memory>", &samples, batch_size)?;
        Ok(InMemory { samples, batch_size })
    }

    /// The samples.
    pub fn samples(&self) -> &ArrayD<f32> {
        &self.samples
    }
}

fn check_samples(name: &str, samples: &ArrayD<f32>, batch_size: usize) -> Result<()> {
    if batch_size == 0 {
        return Err(Error::config("batch", "must be at least 1"));
    }
    if samples.ndim() == 0 || samples.shape()[0] == 0 {
        return Err(Error::data(
            name,
            format!(
                "holds no samples (shape {:?}); it needs a leading sample axis",
                samples.shape()
            ),
        ));
    }
    Ok(())
}

fn split(samples: &ArrayD<f32>, batch_size: usize) -> impl Iterator<Item = Result<Batch>> + '_ {
    samples.axis_chunks_iter(Axis(0), batch_size).map(|chunk| Ok(vec![chunk.to_owned()]))
}

impl CalibrationData for InMemory {
    fn name(&self) -> String {
        "<memory>".into()
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.samples.shape()[0].div_ceil(self.batch_size))
    }
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        Box::new(split(&self.samples, self.batch_size))
    }
}

/// A `.npy` file, or a folder of `.npy` files read one at a time in name order (so memory holds
/// one file, whatever the folder's size), for a single-input model.
#[derive(Clone, Debug)]
pub struct NpySource {
    path: PathBuf,
    files: Vec<PathBuf>,
    batch_size: usize,
    /// Samples per file, known after the constructor's scan.
    samples_per_file: Vec<usize>,
}

impl NpySource {
    /// Opens `path` (a file or a folder of `.npy` files). Every file is checked up front, so a
    /// bad file fails before calibration starts rather than half-way through.
    pub fn open(path: impl AsRef<Path>, batch_size: usize) -> Result<NpySource> {
        let path = path.as_ref().to_path_buf();
        let name = path.display().to_string();
        if batch_size == 0 {
            return Err(Error::config("batch", "must be at least 1"));
        }
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| Error::io("reading", &path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "npy"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::data(
                    name,
                    "is a folder with no .npy files; put float32 arrays saved with numpy.save there",
                ));
            }
            files
        } else if path.exists() {
            vec![path.clone()]
        } else {
            return Err(Error::data(name, "does not exist"));
        };
        let mut samples_per_file = Vec::with_capacity(files.len());
        let mut first_shape: Option<Vec<usize>> = None;
        for file in &files {
            let array = read_npy_f32(file)?;
            check_samples(&file.display().to_string(), &array, batch_size)?;
            let inner = array.shape()[1..].to_vec();
            match &first_shape {
                Some(s) if *s != inner => {
                    return Err(Error::data(
                        file.display().to_string(),
                        format!("samples are shaped {inner:?} but earlier files hold {s:?}"),
                    ))
                }
                None => first_shape = Some(inner),
                _ => {}
            }
            samples_per_file.push(array.shape()[0]);
        }
        Ok(NpySource { path, files, batch_size, samples_per_file })
    }

    /// Total number of samples.
    pub fn num_samples(&self) -> usize {
        self.samples_per_file.iter().sum()
    }

    /// The files, in the order they are read.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }
}

impl CalibrationData for NpySource {
    fn name(&self) -> String {
        self.path.display().to_string()
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.samples_per_file.iter().map(|n| n.div_ceil(self.batch_size)).sum())
    }
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        // Batches do not straddle files: each file is split on its own, keeping memory to one file.
        Box::new(self.files.iter().flat_map(move |file| {
            let batches: Vec<Result<Batch>> = match read_npy_f32(file) {
                Ok(array) => split(&array, self.batch_size).collect(),
                Err(e) => vec![Err(e)],
            };
            batches
        }))
    }
}
