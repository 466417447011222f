//! Whole-file writes for the folder adapters (blob folder, mail outbox): a file appears under its
//! final name complete or not at all, and I/O failures are classified for retrying.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use docket_ports::PortError;

/// Writes `parts` one after the other into a new file at `temp_path`, flushes it to disk and
/// renames it to `path`: the rename is the only step a reader of the folder can observe, so it
/// sees the whole old file (or none) or the whole new one, never a half-written one.
///
/// `temp_path` must be in the same folder as `path` (a rename does not cross file systems) and
/// must not exist: the file is created exclusively, so two writers can never share a temporary
/// file, and a clash of names fails loudly instead. On failure the temporary file is removed
/// (best effort) and the error is classified with `action` naming what was being written.
pub(crate) fn write_atomically(path: &Path, temp_path: &Path, parts: &[&[u8]], action: &str) -> Result<(), PortError> {
    let written = write_new_file(temp_path, parts).and_then(|()| fs::rename(temp_path, path));
    if let Err(error) = written {
        // Best effort: the write already failed, and a leftover temporary file is never read.
        let _ = fs::remove_file(temp_path);
        return Err(io_failure(action, path, error));
    }
    Ok(())
}

/// Like [`write_atomically`], but only if nothing is at `path` yet: the complete temporary
/// file is hard-linked to `path`, which fails, atomically, when the name is taken. Returns
/// `false` then, writing nothing.
pub(crate) fn write_atomically_new(path: &Path, temp_path: &Path, parts: &[&[u8]], action: &str) -> Result<bool, PortError> {
    let linked = write_new_file(temp_path, parts).and_then(|()| fs::hard_link(temp_path, path));
    // The temporary name goes either way; the blob, if linked, lives on under `path`.
    let _ = fs::remove_file(temp_path);
    match linked {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(error) => Err(io_failure(action, path, error)),
    }
}

fn write_new_file(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    // `create_new` refuses an existing name rather than share or overwrite a file.
    let mut file = OpenOptions::new().write(true).create_new(true).open(path)?;
    for part in parts {
        file.write_all(part)?;
    }
    // Without this the rename may reach the disk before the data does, and a power loss would
    // leave an empty or truncated file under the final name.
    file.sync_all()
}

/// Classifies an I/O failure: interruptions and timeouts may pass on retry, the rest will not.
pub(crate) fn io_failure(action: &str, path: &Path, error: io::Error) -> PortError {
    let message = format!("{action} at {}: {error}", path.display());
    match error.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => PortError::Transient(message),
        _ => PortError::Backend(message),
    }
}
