//! Files that appear whole or not at all: written under a temporary name in the folder of
//! their place, synced, then linked or renamed there; removed when anything fails before.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// A file being written, removed when dropped unless it was put in place.
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    kept: bool,
}

impl TempFile {
    /// An empty file, readable by its owner only, in the folder of `beside`:
    /// `.<its name>.<what>-<pid>.tmp`.
    ///
    /// # Errors
    /// The folder is missing or not writable, or `beside` has no file name.
    pub fn create_beside(beside: &Path, what: &str) -> anyhow::Result<TempFile> {
        let name = beside
            .file_name()
            .with_context(|| format!("{} is not a file name", beside.display()))?;
        let path = folder_of(beside).join(format!(
            ".{}.{what}-{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok(TempFile { path, kept: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file, open for writing from its start.
    ///
    /// # Errors
    /// It cannot be opened.
    pub fn open_for_writing(&self) -> anyhow::Result<File> {
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)
            .with_context(|| format!("opening {}", self.path.display()))
    }

    /// Syncs the file to disk, puts it at `to` (replacing a file there only when `replace`),
    /// and syncs the folder, so that the name survives a power cut too. Its size.
    ///
    /// # Errors
    /// `to` exists (without `replace`), or syncing, linking or renaming failed.
    pub fn persist(mut self, to: &Path, replace: bool) -> anyhow::Result<u64> {
        let file = File::open(&self.path)?;
        file.sync_all()
            .with_context(|| format!("syncing {}", self.path.display()))?;
        let size = file.metadata()?.len();
        let exists = || anyhow::anyhow!("{} exists: it was not replaced", to.display());
        if replace {
            std::fs::rename(&self.path, to)
                .with_context(|| format!("renaming into {}", to.display()))?;
        } else {
            // A link refuses to replace a file, even one made a moment ago by another process.
            match std::fs::hard_link(&self.path, to) {
                Ok(()) => std::fs::remove_file(&self.path)?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(exists()),
                // A file system without links (FAT on a backup disk): check, then rename.
                Err(_) if to.exists() => return Err(exists()),
                Err(_) => std::fs::rename(&self.path, to)
                    .with_context(|| format!("renaming into {}", to.display()))?,
            }
        }
        self.kept = true;
        File::open(folder_of(to))
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("syncing the folder of {}", to.display()))?;
        Ok(size)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            // Err: it is gone already.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The folder of `path`: `.` for a bare file name.
fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_temp_file_is_removed_unless_put_in_place_and_never_replaces_by_default() {
        let dir = std::env::temp_dir().join(format!("rapport-files-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("backup.db");
        let dropped = TempFile::create_beside(&target, "part").unwrap();
        let path = dropped.path().to_path_buf();
        assert!(path.is_file());
        drop(dropped);
        assert!(!path.exists());

        let first = TempFile::create_beside(&target, "part").unwrap();
        std::fs::write(first.path(), b"first").unwrap();
        assert_eq!(first.persist(&target, false).unwrap(), 5);
        let second = TempFile::create_beside(&target, "part").unwrap();
        std::fs::write(second.path(), b"second").unwrap();
        let second_path = second.path().to_path_buf();
        assert!(second.persist(&target, false).is_err());
        assert!(!second_path.exists());
        assert_eq!(std::fs::read(&target).unwrap(), b"first");
        let third = TempFile::create_beside(&target, "part").unwrap();
        std::fs::write(third.path(), b"third").unwrap();
        third.persist(&target, true).unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"third");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
