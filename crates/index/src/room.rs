//! Room to write in a data directory, checked before anything is written. Qdrant Edge and
//! Tantivy write through memory-mapped files, and a write into a mapped page on a full disk
//! is a SIGBUS that kills the process rather than an error; a read-only filesystem fails
//! half-way through. So a writer refuses first, with a clear error, and leaves what is there
//! as it was (and a running server goes on serving it).

use std::path::Path;

use crate::IndexError;

/// Free space a writer needs: the write-ahead log's segments and a new index segment grow
/// into it.
pub const MIN_FREE_BYTES: u64 = 64 * 1024 * 1024;

/// `Ok` when `dir` (or, before it exists, the folder it will be made in) is writable and its
/// filesystem has [`MIN_FREE_BYTES`] free.
pub fn ensure_room(dir: &Path) -> Result<(), IndexError> {
    ensure_free_space(dir)?;
    let Some(existing) = dir.ancestors().find(|p| p.is_dir()) else {
        return Ok(());
    };
    let probe = existing.join(format!(".zhiku-write-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ReadOnlyFilesystem | std::io::ErrorKind::PermissionDenied
            ) =>
        {
            Err(IndexError::ReadOnly {
                dir: dir.to_path_buf(),
                why: e.to_string(),
            })
        }
        // Anything else will show itself, with its own error, where the writing happens.
        Err(_) => Ok(()),
    }
}

/// `Ok` when the filesystem holding `dir` has [`MIN_FREE_BYTES`] free (the check between
/// the batches of an ingest, whose writes would already have failed on a read-only one).
pub fn ensure_free_space(dir: &Path) -> Result<(), IndexError> {
    let Some(existing) = dir.ancestors().find(|p| p.is_dir()) else {
        return Ok(());
    };
    // A filesystem that cannot say how full it is is not refused for it.
    match fs4::available_space(existing) {
        Ok(free) if free < MIN_FREE_BYTES => Err(IndexError::DiskFull {
            dir: dir.to_path_buf(),
            free_mb: free / (1024 * 1024),
            need_mb: MIN_FREE_BYTES / (1024 * 1024),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_folder_with_room_passes_and_is_left_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("not-yet-made");
        ensure_room(&data).unwrap();
        assert!(!data.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
