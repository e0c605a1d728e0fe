//! Calibration data in NumPy files, read one file at a time so memory holds one file whatever
//! the folder's size.

use super::memory::check_samples;
use super::{check_batch_size, Batch, CalibrationData, UNNAMED};
use crate::internal::*;
use crate::npy::{npy_info, read_npy, read_npz, NpyInfo};
use crate::tensor::{TensorMap, TensorValue};
use std::path::{Path, PathBuf};

/// NumPy files as calibration data, in any of these layouts:
///
/// | path | model | batches |
/// |---|---|---|
/// | `calib.npy` | one input | the samples (leading axis) in batches of `batch_size` |
/// | folder of `.npy` | one input | each file on its own, in name order |
/// | `calib.npz` | any inputs: one array per input name (`numpy.savez(f, input_ids=..., attention_mask=...)`) | see below |
/// | folder of `.npz` | any inputs | each archive on its own, in name order |
/// | folder of folders, one per input name, each holding `.npy` files | any inputs | file *k* of every folder together, in name order |
///
/// Arrays that come together (one archive, or file *k* of every input folder) are split into
/// batches of `batch_size` along their leading axis when they all share its extent. Otherwise
/// — a scalar input such as a sample rate, or a recurrent state whose batch axis is not first
/// — they are one batch, fed exactly as stored.
///
/// Every file's header is checked up front, so a bad file fails before calibration starts,
/// not half-way through; data is read when a pass reaches it.
///
/// ```
/// use calibr8_core::{CalibrationData, NpySource};
/// let data = NpySource::open("../examples/digits/calib.npy", 64)?;
/// assert_eq!(data.num_batches(), Some(4));
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct NpySource {
    path: PathBuf,
    groups: Vec<Group>,
    batch_size: usize,
    /// Batches each group gives, known after the constructor's scan.
    batches_per_group: Vec<usize>,
    /// Samples each group holds (the leading extent; 1 for an all-scalar group).
    samples_per_group: Vec<usize>,
}

/// Files read together into one or more batches.
#[derive(Clone, Debug)]
enum Group {
    /// One `.npy` array for a single-input model.
    Npy(PathBuf),
    /// One `.npz` archive: one array per input name.
    Npz(PathBuf),
    /// File k of each input's folder: (input name, file).
    PerInput(Vec<(String, PathBuf)>),
}

impl Group {
    fn describe(&self) -> String {
        match self {
            Group::Npy(p) | Group::Npz(p) => p.display().to_string(),
            Group::PerInput(files) => {
                files.iter().map(|(_, p)| p.display().to_string()).collect::<Vec<_>>().join(" + ")
            }
        }
    }

    /// The arrays' headers (names and shapes), without reading their data where the format
    /// allows (`.npz` archives are read whole: their entries may be compressed).
    fn infos(&self) -> Result<Vec<(String, NpyInfo)>> {
        Ok(match self {
            Group::Npy(p) => vec![(UNNAMED.to_string(), npy_info(p)?)],
            Group::Npz(p) => read_npz(p)?
                .into_iter()
                .map(|(name, v)| {
                    let info = NpyInfo { shape: v.shape().to_vec(), elem_type: v.elem_type() };
                    (name, info)
                })
                .collect(),
            Group::PerInput(files) => files
                .iter()
                .map(|(name, p)| Ok((name.clone(), npy_info(p)?)))
                .collect::<Result<_>>()?,
        })
    }

    fn load(&self) -> Result<TensorMap> {
        Ok(match self {
            Group::Npy(p) => TensorMap::single(UNNAMED, read_npy(p)?),
            Group::Npz(p) => read_npz(p)?.into_iter().collect(),
            Group::PerInput(files) => files
                .iter()
                .map(|(name, p)| Ok((name.clone(), read_npy(p)?)))
                .collect::<Result<_>>()?,
        })
    }
}

/// The shared leading extent of arrays that are split into batches together, or `None` when
/// they are fed as stored (a scalar among them, or leading extents that differ).
fn shared_samples(shapes: &[&[usize]]) -> Option<usize> {
    let first = *shapes.first()?.first()?;
    shapes.iter().all(|s| s.first() == Some(&first)).then_some(first)
}

fn batches_in(samples: Option<usize>, batch_size: usize) -> usize {
    samples.map_or(1, |n| n.div_ceil(batch_size))
}

fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("reading", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    Ok(files)
}

fn subfolders(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io("reading", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

fn groups_of(path: &Path) -> Result<Vec<Group>> {
    let name = path.display().to_string();
    if path.is_file() {
        return match path.extension().and_then(|e| e.to_str()) {
            Some("npy") => Ok(vec![Group::Npy(path.to_path_buf())]),
            Some("npz") => Ok(vec![Group::Npz(path.to_path_buf())]),
            _ => Err(Error::data(
                name,
                "is neither a .npy nor a .npz file; save arrays with numpy.save or numpy.savez",
            )),
        };
    }
    if !path.is_dir() {
        return Err(Error::data(name, "does not exist"));
    }
    let npy = files_with(path, "npy")?;
    let npz = files_with(path, "npz")?;
    let dirs = subfolders(path)?;
    match (npy.is_empty(), npz.is_empty(), dirs.is_empty()) {
        (false, true, _) => Ok(npy.into_iter().map(Group::Npy).collect()),
        (true, false, _) => Ok(npz.into_iter().map(Group::Npz).collect()),
        (false, false, _) => Err(Error::data(
            name,
            "mixes .npy and .npz files; keep one layout per folder (.npy for a single-input \
             model, .npz with one array per input name for any model)",
        )),
        (true, true, false) => per_input_groups(path, &dirs),
        (true, true, true) => Err(Error::data(
            name,
            "is a folder with no .npy or .npz files and no per-input sub-folders; put arrays \
             saved with numpy.save / numpy.savez there",
        )),
    }
}

/// A folder of per-input folders: file k of each forms group k.
fn per_input_groups(path: &Path, dirs: &[PathBuf]) -> Result<Vec<Group>> {
    let mut inputs: Vec<(String, Vec<PathBuf>)> = vec![];
    for dir in dirs {
        let input = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let files = files_with(dir, "npy")?;
        if files.is_empty() {
            return Err(Error::data(
                dir.display().to_string(),
                format!("holds no .npy files for input '{input}'"),
            ));
        }
        inputs.push((input, files));
    }
    let count = inputs[0].1.len();
    if let Some((input, files)) = inputs.iter().find(|(_, f)| f.len() != count) {
        return Err(Error::data(
            path.display().to_string(),
            format!(
                "has {} file(s) for input '{input}' but {count} for '{}'; every input folder \
                 needs one file per batch, matched by name order",
                files.len(),
                inputs[0].0
            ),
        ));
    }
    Ok((0..count)
        .map(|k| Group::PerInput(inputs.iter().map(|(n, f)| (n.clone(), f[k].clone())).collect()))
        .collect())
}

impl NpySource {
    /// Opens `path` in any layout of the table above and checks every file's header.
    pub fn open(path: impl AsRef<Path>, batch_size: usize) -> Result<NpySource> {
        let path = path.as_ref().to_path_buf();
        check_batch_size(batch_size)?;
        let groups = groups_of(&path)?;
        let mut batches_per_group = Vec::with_capacity(groups.len());
        let mut samples_per_group = Vec::with_capacity(groups.len());
        // Name → (element type, inner dims) of the first group, which every later one must match.
        let mut first: Option<Vec<(String, NpyInfo)>> = None;
        for group in &groups {
            let infos = group.infos()?;
            let shapes: Vec<&[usize]> = infos.iter().map(|(_, i)| i.shape.as_slice()).collect();
            let samples = shared_samples(&shapes);
            if let Group::Npy(p) = group {
                check_samples(&p.display().to_string(), &infos[0].1.shape)?;
            }
            if let Some(first) = &first {
                check_consistent(group, first, &infos)?;
            } else {
                first = Some(infos.clone());
            }
            batches_per_group.push(batches_in(samples, batch_size));
            samples_per_group
                .push(samples.unwrap_or_else(|| {
                    shapes.iter().find_map(|s| s.first().copied()).unwrap_or(1)
                }));
        }
        Ok(NpySource { path, groups, batch_size, batches_per_group, samples_per_group })
    }

    /// Total number of samples.
    pub fn num_samples(&self) -> usize {
        self.samples_per_group.iter().sum()
    }

    /// The files, in the order they are read.
    pub fn files(&self) -> Vec<PathBuf> {
        self.groups
            .iter()
            .flat_map(|g| match g {
                Group::Npy(p) | Group::Npz(p) => vec![p.clone()],
                Group::PerInput(files) => files.iter().map(|(_, p)| p.clone()).collect(),
            })
            .collect()
    }

    /// Splits one group's arrays into batches (or keeps them whole, see the type's doc).
    fn split(&self, group: &Group, arrays: TensorMap) -> Result<Vec<Batch>> {
        let shapes: Vec<&[usize]> = arrays.values().map(|v| v.shape()).collect();
        let Some(samples) = shared_samples(&shapes) else {
            return Ok(vec![arrays]);
        };
        let names: Vec<String> = arrays.names().map(str::to_string).collect();
        let parts: Vec<Vec<TensorValue>> =
            arrays.values().map(|v| v.split_samples(self.batch_size)).collect();
        let n = samples.div_ceil(self.batch_size);
        if parts.iter().any(|p| p.len() != n) {
            return Err(Error::data(group.describe(), "changed while it was being read"));
        }
        Ok((0..n)
            .map(|b| {
                names.iter().zip(&parts).map(|(name, p)| (name.clone(), p[b].clone())).collect()
            })
            .collect())
    }
}

/// Every group must hold the same arrays, of the same types and per-sample shapes, as the
/// first: a change half-way would surface as a confusing engine error.
fn check_consistent(
    group: &Group,
    first: &[(String, NpyInfo)],
    infos: &[(String, NpyInfo)],
) -> Result<()> {
    let names = |i: &[(String, NpyInfo)]| i.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    if names(first) != names(infos) {
        return Err(Error::data(
            group.describe(),
            format!(
                "holds arrays {:?} but earlier files hold {:?}; every file needs the same arrays",
                names(infos),
                names(first)
            ),
        ));
    }
    for ((name, a), (_, b)) in first.iter().zip(infos) {
        let label = if name.is_empty() { String::new() } else { format!("array '{name}': ") };
        if a.elem_type != b.elem_type {
            return Err(Error::data(
                group.describe(),
                format!("{label}holds {} but earlier files hold {}", b.elem_type, a.elem_type),
            ));
        }
        let inner = |s: &[usize]| s.get(1..).map(<[usize]>::to_vec).unwrap_or_default();
        if a.shape.len() != b.shape.len() || inner(&a.shape) != inner(&b.shape) {
            return Err(Error::data(
                group.describe(),
                format!(
                    "{label}samples are shaped {:?} but earlier files hold {:?}",
                    inner(&b.shape),
                    inner(&a.shape)
                ),
            ));
        }
    }
    Ok(())
}

impl CalibrationData for NpySource {
    fn name(&self) -> String {
        self.path.display().to_string()
    }
    fn num_batches(&self) -> Option<usize> {
        Some(self.batches_per_group.iter().sum())
    }
    fn batches(&self) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        // Batches do not straddle files: each group is split on its own, keeping memory to one.
        Box::new(self.groups.iter().flat_map(move |group| {
            let batches: Vec<Result<Batch>> =
                match group.load().and_then(|arrays| self.split(group, arrays)) {
                    Ok(batches) => batches.into_iter().map(Ok).collect(),
                    Err(e) => vec![Err(e)],
                };
            batches
        }))
    }
}
