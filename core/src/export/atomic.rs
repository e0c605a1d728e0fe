//! Writing outputs so that a failure leaves nothing half-written: every file goes to a temporary
//! name in its destination folder and is renamed only once all of them are complete.

use crate::internal::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A set of files to publish together into one folder.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let mut out = calibr8_core::export::OutputSet::new(dir.path().join("out"));
/// out.add("a.txt", b"hello".to_vec());
/// let written = out.commit()?;
/// assert_eq!(std::fs::read(&written[0]).unwrap(), b"hello");
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Debug)]
pub struct OutputSet {
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
}

impl OutputSet {
    /// Files will land in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> OutputSet {
        OutputSet { dir: dir.into(), files: vec![] }
    }

    /// Queues `name` with `bytes`.
    pub fn add(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.files.push((name.into(), bytes));
    }

    /// Writes every file to a temporary name, then renames them all into place. On error, the
    /// temporaries (and a folder this call created) are removed.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let created = !self.dir.exists();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| Error::io("creating directory", &self.dir, e))?;
        let mut temps = vec![];
        let result = (|| {
            for (name, bytes) in &self.files {
                let final_path = self.dir.join(name);
                let temp = temp_path(&final_path);
                temps.push((temp.clone(), final_path));
                write_file(&temp, bytes)?;
            }
            Ok(())
        })();
        if let Err(e) = result {
            for (temp, _) in &temps {
                let _ = std::fs::remove_file(temp);
            }
            if created {
                let _ = std::fs::remove_dir(&self.dir);
            }
            return Err(e);
        }
        let mut written = vec![];
        for (temp, final_path) in temps {
            std::fs::rename(&temp, &final_path)
                .map_err(|e| Error::io("renaming", &final_path, e))?;
            written.push(final_path);
        }
        Ok(written)
    }
}

/// Writes one file atomically (temporary name in the same folder, then rename).
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let temp = temp_path(path);
    if let Err(e) = write_file(&temp, bytes) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::io("renaming", path, e)
    })
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}.calibr8-tmp", std::process::id()))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).map_err(|e| Error::io("writing", path, e))?;
    file.write_all(bytes).map_err(|e| Error::io("writing", path, e))?;
    file.sync_all().map_err(|e| Error::io("writing", path, e))
}
