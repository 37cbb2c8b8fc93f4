//! The data folder and what it holds (the SQLite file, the generated JWT secret) are for the
//! server's user alone: created 0700 and 0600 whatever the umask, with a warning when an
//! existing one is open to others.

use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;

/// Creates `dir` (and its parents) readable by its owner only; warns when it exists and is not.
///
/// # Errors
/// The folder cannot be created.
pub fn create_dir(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the data folder {}", dir.display()))?;
    warn_if_open(dir);
    Ok(())
}

/// Creates `path` empty with mode 0600 unless it exists, in which case it warns when the file
/// is open to others.
///
/// # Errors
/// The file cannot be created.
pub fn create_file(path: &Path) -> anyhow::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            warn_if_open(path);
            Ok(())
        }
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// Logs a warning when `path` can be read or entered by its group or others.
pub fn warn_if_open(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "readable by other users: it holds customer data or secrets; chmod go-rwx it"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn creates_private_folders_and_files_and_keeps_existing_ones() {
        let root = std::env::temp_dir().join(format!("rapport-private-{}", uuid::Uuid::now_v7()));
        let dir = root.join("data");
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("rapport.db");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, b"kept").unwrap();
        create_file(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"kept");
        std::fs::remove_dir_all(root).unwrap();
    }
}
