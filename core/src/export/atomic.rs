//! Publishing a set of files as one unit: a reader of the output folder sees the old complete set
//! or the new complete set, never a mix, and a failed or interrupted run leaves nothing behind.
//!
//! [`OutputSet::commit`] writes every file into a fresh sibling folder `.{out}.calibr8-{pid}.new`
//! (files fsynced, then the folder), carries over by hard link whatever else the old folder holds,
//! then swaps the folders: on Linux with one `renameat2(RENAME_EXCHANGE)` (atomic: the old set
//! is in place until the instant the new one is), elsewhere old → `.{out}.calibr8-{pid}.old`,
//! new → `out` (rolled back if the second rename fails). The old set is then removed.
//!
//! Interruption: [`interrupt`] (called by the CLI's SIGINT / SIGTERM handler) waits for a swap
//! in progress to finish, removes the temporary folder and any parent folders this run created,
//! and makes a commit still writing stop with [`Error::Interrupted`]. A run killed outright
//! (SIGKILL, power loss) leaves its temporary folder; the next commit into the same place removes
//! it (and restores the old set if the kill fell between the two renames of the fallback swap).

use crate::internal::*;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// A set of files to publish together into one folder.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let mut out = calibr8_core::export::OutputSet::new(dir.path().join("out"));
/// out.add("a.txt", b"hello".to_vec());
/// let written = out.commit()?;
/// assert_eq!(std::fs::read(&written[0]).unwrap(), b"hello");
/// // Nothing else is left next to the folder.
/// assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
/// # Ok::<(), calibr8_core::Error>(())
/// ```
#[derive(Debug)]
pub struct OutputSet {
    dir: PathBuf,
    files: Vec<(String, Vec<u8>)>,
}

/// Paths this process created and must remove if interrupted, deepest first. The lock is held
/// for the whole swap so that [`interrupt`] never sees a half-swapped folder.
static CREATED: Mutex<Vec<(u64, Created)>> = Mutex::new(Vec::new());
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Tells concurrent commits of one process (tests, library users) apart.
static NEXT_COMMIT: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone, PartialEq)]
enum Created {
    /// A temporary folder: removed with its contents.
    Temp(PathBuf),
    /// A parent folder this run created: removed if empty.
    Parent(PathBuf),
}

/// Called from a signal handler thread: stops commits in flight and removes everything they had
/// created, so the output folder stays as it was. The caller exits afterwards.
pub fn interrupt() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    // Waits for a swap in progress; a poisoned lock still holds the list.
    let created = match CREATED.lock() {
        Ok(g) => g.clone(),
        Err(p) => p.into_inner().clone(),
    };
    let entries: Vec<Created> = created.into_iter().map(|(_, c)| c).collect();
    remove_created(&entries);
}

/// Removes temporary folders (with their contents), then parent folders this run created,
/// innermost first (they were registered outermost first), each only if empty.
fn remove_created(entries: &[Created]) {
    for c in entries {
        if let Created::Temp(p) = c {
            // A writer may be creating one more file: retry a few times.
            for _ in 0..20 {
                if std::fs::remove_dir_all(p).is_ok() || !p.exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        }
    }
    for c in entries.iter().rev() {
        if let Created::Parent(p) = c {
            let _ = std::fs::remove_dir(p);
        }
    }
}

fn interrupted(dir: &Path) -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(Error::Interrupted { path: dir.to_path_buf() });
    }
    Ok(())
}

/// Test hook: with `CALIBR8_TEST_PAUSE_AT_STEP=k`, the k-th step of a commit (0-based, see
/// [`OutputSet::commit`]) touches the file named by `CALIBR8_TEST_PAUSE_MARKER` and waits to be
/// signalled, so tests can interrupt a run at every write step.
fn checkpoint(step: &mut usize, dir: &Path) -> Result<()> {
    interrupted(dir)?;
    let here = *step;
    *step += 1;
    let pause_at = std::env::var("CALIBR8_TEST_PAUSE_AT_STEP").ok();
    if pause_at.and_then(|v| v.parse::<usize>().ok()) == Some(here) {
        if let Ok(marker) = std::env::var("CALIBR8_TEST_PAUSE_MARKER") {
            let _ = std::fs::write(marker, here.to_string());
        }
        for _ in 0..6000 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            interrupted(dir)?;
        }
    }
    Ok(())
}

impl OutputSet {
    /// Files will land in `dir` (created if missing).
    pub fn new(dir: impl Into<PathBuf>) -> OutputSet {
        OutputSet { dir: dir.into(), files: vec![] }
    }

    /// Queues `name` (a relative path inside the folder) with `bytes`.
    pub fn add(&mut self, name: impl Into<String>, bytes: Vec<u8>) {
        self.files.push((name.into(), bytes));
    }

    /// Publishes the set: all files or none. Steps (numbered for the interruption tests):
    /// 0 prepare (stale temporaries removed, parents created), 1..=n write file k, n+1 carry
    /// over the old folder's other entries, n+2 sync, n+3 swap, n+4 remove the old set.
    ///
    /// Files of the old folder that are not in the set are kept (hard-linked into the new one).
    /// On any error the folder is left exactly as it was and nothing this call created remains.
    pub fn commit(self) -> Result<Vec<PathBuf>> {
        let out = absolute(&self.dir)?;
        self.check(&out)?;
        let parent = out.parent().map(Path::to_path_buf).ok_or_else(|| Error::OutputFolder {
            path: out.clone(),
            reason: "is the file system root; give a folder below it".into(),
        })?;
        let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let id = NEXT_COMMIT.fetch_add(1, Ordering::Relaxed);
        let mut step = 0;
        checkpoint(&mut step, &out)?;
        let created_parents = create_parents(&parent)?;
        {
            let mut created = lock();
            created.extend(created_parents.iter().cloned().map(|p| (id, Created::Parent(p))));
        }
        let result = self.publish(&out, &parent, &name, id, &mut step);
        let mut created = lock();
        if result.is_err() {
            // Roll back: what this call created goes.
            let mine: Vec<Created> =
                created.iter().filter(|(c, _)| *c == id).map(|(_, c)| c.clone()).collect();
            remove_created(&mine);
        }
        created.retain(|(c, _)| *c != id);
        result
    }

    fn check(&self, out: &Path) -> Result<()> {
        let bad = |reason: String| Error::OutputFolder { path: out.to_path_buf(), reason };
        if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize()) {
            if let Ok(real) = out.canonicalize() {
                if cwd.starts_with(&real) {
                    return Err(bad("holds the current directory, and calibr8 replaces the \
                                    output folder as a whole; give a subfolder such as \
                                    --out calibr8-out"
                        .into()));
                }
            }
        }
        if out.is_file() {
            return Err(bad("is a file; give a folder".into()));
        }
        for (name, _) in &self.files {
            let p = Path::new(name);
            let plain = p.components().all(|c| matches!(c, Component::Normal(_)));
            if name.is_empty() || !plain {
                return Err(bad(format!(
                    "file name '{name}' must be a relative path without '..'"
                )));
            }
            let existing = out.join(p);
            if existing.is_dir() {
                return Err(bad(format!(
                    "{} is a folder where calibr8 writes a file; move it away and rerun",
                    existing.display()
                )));
            }
        }
        Ok(())
    }

    fn publish(
        &self,
        out: &Path,
        parent: &Path,
        name: &str,
        id: u64,
        step: &mut usize,
    ) -> Result<Vec<PathBuf>> {
        remove_stale(out, parent, name);
        let temp = parent.join(format!(".{name}.calibr8-{}-{id}.new", std::process::id()));
        // A leftover of this very process (an earlier commit that failed to clean up).
        let _ = std::fs::remove_dir_all(&temp);
        {
            let mut created = lock();
            interrupted(out)?;
            std::fs::create_dir(&temp).map_err(|e| Error::io("creating directory", &temp, e))?;
            created.push((id, Created::Temp(temp.clone())));
        }
        let mut written = vec![];
        for (file, bytes) in &self.files {
            checkpoint(step, out)?;
            let path = temp.join(file);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::io("creating directory", dir, e))?;
            }
            write_file(&path, bytes)?;
            written.push(out.join(file));
        }
        checkpoint(step, out)?;
        if out.is_dir() {
            let names: Vec<&str> = self.files.iter().map(|(n, _)| n.as_str()).collect();
            carry_over(out, &temp, &names)?;
        }
        checkpoint(step, out)?;
        sync_dir(&temp)?;
        checkpoint(step, out)?;
        {
            // Under the lock: an interrupt waits until the swap is complete or undone.
            let mut created = lock();
            interrupted(out)?;
            let replaced = swap(&temp, out, parent, name, id)?;
            // The parents are in use now and `temp` is `out`; only the old set remains ours.
            created.retain(|(c, _)| *c != id);
            if let Some(old) = replaced {
                created.push((id, Created::Temp(old)));
            }
        }
        let _ = sync_dir(parent);
        // The new set is in place: from here on an interruption only leaves the old set behind,
        // which the next run removes.
        let _ = checkpoint(step, out);
        let leftovers: Vec<Created> =
            lock().iter().filter(|(c, _)| *c == id).map(|(_, c)| c.clone()).collect();
        for c in leftovers {
            if let Created::Temp(p) = c {
                if let Err(e) = std::fs::remove_dir_all(&p) {
                    tracing::warn!("could not remove the previous output set {}: {e}", p.display());
                }
            }
        }
        lock().retain(|(c, _)| *c != id);
        Ok(written)
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, Created)>> {
    CREATED.lock().unwrap_or_else(|p| p.into_inner())
}

fn absolute(dir: &Path) -> Result<PathBuf> {
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    // A symlinked output folder: replace the folder it points to, keep the link.
    if dir.is_symlink() {
        return dir.canonicalize().map_err(|e| Error::io("resolving", dir, e));
    }
    let abs = std::path::absolute(dir).map_err(|e| Error::io("resolving", dir, e))?;
    // `a/b/..` and `a/.` name the folder itself: normalize so the parent is the real one.
    let mut clean = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    Ok(clean)
}

/// Creates the missing ancestors of `dir`; returns them, outermost first.
fn create_parents(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut missing = vec![];
    let mut cur = Some(dir);
    while let Some(p) = cur {
        if p.exists() {
            break;
        }
        missing.push(p.to_path_buf());
        cur = p.parent();
    }
    missing.reverse();
    let mut created = vec![];
    for p in &missing {
        if let Err(e) = std::fs::create_dir(p) {
            for c in created.iter().rev() {
                let _ = std::fs::remove_dir(c);
            }
            return Err(Error::io("creating directory", p, e));
        }
        created.push(p.clone());
    }
    Ok(created)
}

/// Removes temporaries of dead runs into the same folder; restores an old set a kill stranded
/// between the two renames of the fallback swap.
fn remove_stale(out: &Path, parent: &Path, name: &str) {
    let prefix = format!(".{name}.calibr8-");
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file.strip_prefix(&prefix) else { continue };
        let Some((tag, kind)) = rest.split_once('.') else { continue };
        let pid = tag.split('-').next().unwrap_or_default();
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if process_alive(pid) {
            continue;
        }
        let path = entry.path();
        if kind == "old" && !out.exists() && std::fs::rename(&path, out).is_ok() {
            tracing::warn!("restored {} from an interrupted run", out.display());
            continue;
        }
        tracing::info!("removing {} left by an interrupted run", path.display());
        let _ = std::fs::remove_dir_all(&path);
    }
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks whether the process exists; no signal is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    // No cheap check: treat temporaries as stale (they carry a PID, so two live runs into the
    // same folder at once are the only case this misjudges).
    false
}

/// Hard-links (or copies) every entry of `old` that is not one of `names` into `new`.
fn carry_over(old: &Path, new: &Path, names: &[&str]) -> Result<()> {
    fn walk(old: &Path, new: &Path, rel: &Path, names: &[&str]) -> Result<()> {
        let entries = std::fs::read_dir(old).map_err(|e| Error::io("reading", old, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("reading", old, e))?;
            let rel = rel.join(entry.file_name());
            let src = entry.path();
            let dst = new.join(entry.file_name());
            let kind = entry.file_type().map_err(|e| Error::io("reading", &src, e))?;
            if kind.is_dir() {
                if !dst.exists() {
                    std::fs::create_dir(&dst)
                        .map_err(|e| Error::io("creating directory", &dst, e))?;
                }
                walk(&src, &dst, &rel, names)?;
            } else if names.iter().any(|n| Path::new(n) == rel) || dst.exists() {
                continue;
            } else if kind.is_symlink() {
                let target = std::fs::read_link(&src).map_err(|e| Error::io("reading", &src, e))?;
                symlink(&target, &dst).map_err(|e| Error::io("writing", &dst, e))?;
            } else if std::fs::hard_link(&src, &dst).is_err() {
                std::fs::copy(&src, &dst).map_err(|e| Error::io("copying", &src, e))?;
            }
        }
        Ok(())
    }
    walk(old, new, Path::new(""), names)
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::fs::copy(target, link).map(|_| ())
}

/// Puts `temp` in place of `out`. Returns where the old set now is (to remove), if any.
fn swap(temp: &Path, out: &Path, parent: &Path, name: &str, id: u64) -> Result<Option<PathBuf>> {
    if !out.exists() {
        std::fs::rename(temp, out).map_err(|e| Error::io("renaming", out, e))?;
        return Ok(None);
    }
    if exchange(temp, out) {
        return Ok(Some(temp.to_path_buf()));
    }
    let old = parent.join(format!(".{name}.calibr8-{}-{id}.old", std::process::id()));
    std::fs::rename(out, &old).map_err(|e| Error::io("renaming", out, e))?;
    if let Err(e) = std::fs::rename(temp, out) {
        let restored = std::fs::rename(&old, out);
        return Err(match restored {
            Ok(()) => Error::io("renaming", out, e),
            Err(e2) => Error::OutputFolder {
                path: out.to_path_buf(),
                reason: format!(
                    "could not put the new set in place ({e}) nor the old one back ({e2}); the \
                     old set is in {}",
                    old.display()
                ),
            },
        });
    }
    Ok(Some(old))
}

/// Atomically exchanges two folders (Linux `renameat2(RENAME_EXCHANGE)`); false if the file
/// system or kernel cannot, in which case the caller falls back to two renames.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> bool {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let (Ok(a), Ok(b)) =
        (CString::new(a.as_os_str().as_bytes()), CString::new(b.as_os_str().as_bytes()))
    else {
        return false;
    };
    // SAFETY: both paths are valid NUL-terminated strings for the duration of the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    r == 0
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> bool {
    false
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match std::fs::File::open(dir) {
        Ok(f) => {
            let r = f.sync_all();
            if cfg!(unix) {
                r.map_err(|e| Error::io("syncing", dir, e))?;
            }
            Ok(())
        }
        Err(e) if cfg!(unix) => Err(Error::io("syncing", dir, e)),
        Err(_) => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn set(dir: &Path, files: &[(&str, &str)]) -> Result<Vec<PathBuf>> {
        let mut out = OutputSet::new(dir);
        for (n, b) in files {
            out.add(*n, b.as_bytes().to_vec());
        }
        out.commit()
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_the_set_and_keeps_other_files() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        set(&out, &[("a.txt", "a1"), ("b.txt", "b1")]).unwrap();
        std::fs::write(out.join("mine.txt"), "user").unwrap();
        std::fs::create_dir(out.join("sub")).unwrap();
        std::fs::write(out.join("sub/x"), "x").unwrap();
        set(&out, &[("a.txt", "a2"), ("b.txt", "b2")]).unwrap();
        assert_eq!(listing(&out), ["a.txt", "b.txt", "mine.txt", "sub"]);
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "a2");
        assert_eq!(std::fs::read_to_string(out.join("mine.txt")).unwrap(), "user");
        assert_eq!(std::fs::read_to_string(out.join("sub/x")).unwrap(), "x");
        assert_eq!(listing(root.path()), ["out"], "no temporaries left");
    }

    #[test]
    fn a_folder_in_the_way_fails_before_anything_changes() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        set(&out, &[("a.txt", "a1"), ("ranges.json", "r1")]).unwrap();
        std::fs::remove_file(out.join("ranges.json")).unwrap();
        std::fs::create_dir(out.join("ranges.json")).unwrap();
        let e = set(&out, &[("a.txt", "a2"), ("ranges.json", "r2")]).unwrap_err().to_string();
        assert!(e.contains("ranges.json is a folder"), "{e}");
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "a1");
        assert_eq!(listing(root.path()), ["out"]);
    }

    #[test]
    fn failures_leave_no_empty_parents() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b/c");
        let e = set(&out, &[("x", "1"), ("../escape", "2")]).unwrap_err().to_string();
        assert!(e.contains("without '..'"), "{e}");
        assert!(listing(root.path()).is_empty());
        // A failure after the parents were created (a write error) also removes them.
        let blocker = root.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        assert!(set(&blocker.join("x/y"), &[("x", "1")]).is_err());
        assert_eq!(listing(root.path()), ["file"]);
    }

    #[test]
    fn stale_temporaries_of_dead_runs_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        // PID 0x7fff_fff0 is above any real pid_max.
        let stale = root.path().join(format!(".out.calibr8-{}.new", 0x7fff_fff0u32));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("half"), "x").unwrap();
        // An old set stranded by a kill between the fallback swap's renames is restored first.
        let stranded = root.path().join(format!(".out.calibr8-{}.old", 0x7fff_fff1u32));
        std::fs::create_dir(&stranded).unwrap();
        std::fs::write(stranded.join("keep.txt"), "old").unwrap();
        set(&out, &[("a.txt", "a")]).unwrap();
        assert_eq!(listing(root.path()), ["out"]);
        assert_eq!(listing(&out), ["a.txt", "keep.txt"]);
    }

    #[test]
    fn refuses_the_current_directory_and_files() {
        let cwd = std::env::current_dir().unwrap();
        let e = set(&cwd, &[("a", "b")]).unwrap_err().to_string();
        assert!(e.contains("current directory"), "{e}");
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("f");
        std::fs::write(&f, "").unwrap();
        assert!(set(&f, &[("a", "b")]).unwrap_err().to_string().contains("is a file"));
    }
}
