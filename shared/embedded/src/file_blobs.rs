//! The folder adapter of the blob port ([`docket_ports::BlobStore`]): attachments and raw mail of
//! the local `docket` process, kept as files under one root folder.
//!
//! Layout. A key `cases/01ABC/x.pdf` is stored as the file `<root>/cases/01ABC/x.pdf@blob`: the
//! folders mirror the key so the store stays browsable, and only the last segment gets the
//! `@blob` suffix. `@` is outside the key alphabet, so a blob file can never have the name of a
//! folder: the keys `cases/01ABC` and `cases/01ABC/x.pdf` coexist as they do on S3. Temporary
//! files end in `@tmp-…`, which no blob or folder name can match either.
//!
//! A key segment may be up to 512 characters but a file name only 255 bytes, so a segment longer
//! than [`MAX_NAME_CHUNK`] is cut into chunks, every chunk but the last becoming a folder ending
//! in `@+`. The marker keeps the mapping one-to-one and apart from plain folders and blob files.
//!
//! File format. Each blob file starts with one line of JSON (`{"content_type":"…"}\n`)
//! followed by the bytes. Keeping the content type in the same file as the bytes means a single
//! rename replaces both at once: a crash or two concurrent writers can never pair the bytes of
//! one put with the content type of another, which a separate metadata file could.
//!
//! Atomicity. A put writes a temporary file next to the target, flushes it to disk and renames it
//! over the target, so a reader sees either the whole old blob or the whole new one, never a
//! half-written one. A crash may leave a temporary file behind; it is never read.
//!
//! Limitation: on a case-insensitive file system (macOS and Windows defaults) keys that differ
//! only in case share a file, whereas S3 keeps them apart. Docket's own keys never rely on case.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use docket_ports::{BlobInfo, BlobStore, PortError, validate_blob_key, validate_content_type};
use serde::{Deserialize, Serialize};

use crate::atomic_file::{io_failure, write_atomically};

/// Appended to the last key segment to name the blob file; `@` cannot occur in a key.
const BLOB_SUFFIX: &str = "@blob";
/// Marks temporary files; `@` cannot occur in a key, so these never shadow a blob or a folder.
const TEMP_MARKER: &str = "@tmp-";
/// Longest piece of a key segment put into one file name, leaving room for the suffixes within
/// the 255 bytes most file systems allow.
const MAX_NAME_CHUNK: usize = 200;
/// Ends a folder holding the continuation of a segment longer than [`MAX_NAME_CHUNK`].
const CONTINUED_MARKER: &str = "@+";
/// Longest header line accepted on reading; a longer one means the file is not a blob of ours.
const MAX_HEADER_LEN: usize = 4096;

/// Distinguishes the temporary files of concurrent puts within this process (the process id
/// distinguishes processes sharing the folder).
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The first line of every blob file.
#[derive(Debug, Serialize, Deserialize)]
struct Header {
    content_type: String,
}

/// [`BlobStore`] on a local folder. Cloning is cheap; clones share the folder.
#[derive(Debug, Clone)]
pub struct FileBlobStore {
    root: PathBuf,
}

impl FileBlobStore {
    /// A store keeping its blobs under `root`, which is created when missing.
    pub fn new(root: PathBuf) -> Result<Self, PortError> {
        fs::create_dir_all(&root)
            .map_err(|error| io_failure("create the blob folder", &root, error))?;
        Ok(FileBlobStore { root })
    }

    /// The folder holding the blobs.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of a blob. The key is validated first: with no empty, `.` or `..` segment and
    /// nothing but `[A-Za-z0-9._-]` in each segment, the path cannot leave the root.
    fn blob_path(&self, key: &str) -> Result<PathBuf, PortError> {
        validate_blob_key(key)?;
        let mut path = self.root.clone();
        let mut segments = key.split('/').peekable();
        while let Some(segment) = segments.next() {
            let suffix = if segments.peek().is_some() {
                ""
            } else {
                BLOB_SUFFIX
            };
            push_segment(&mut path, segment, suffix);
        }
        Ok(path)
    }
}

/// Appends one validated key segment (ASCII, so any byte offset is a character boundary).
fn push_segment(path: &mut PathBuf, segment: &str, suffix: &str) {
    let mut rest = segment;
    while rest.len() > MAX_NAME_CHUNK {
        let (chunk, tail) = rest.split_at(MAX_NAME_CHUNK);
        path.push(format!("{chunk}{CONTINUED_MARKER}"));
        rest = tail;
    }
    path.push(format!("{rest}{suffix}"));
}

#[async_trait]
impl BlobStore for FileBlobStore {
    async fn put(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<BlobInfo, PortError> {
        let path = self.blob_path(key)?;
        validate_content_type(content_type)?;
        let header = encode_header(content_type)?;
        let size = bytes.len() as u64;
        run_blocking(move || write_blob(&path, &header, &bytes)).await?;
        Ok(BlobInfo {
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            size,
        })
    }

    async fn get(&self, key: &str) -> Result<(BlobInfo, Vec<u8>), PortError> {
        let path = self.blob_path(key)?;
        let owned_key = key.to_owned();
        run_blocking(move || {
            let contents = match fs::read(&path) {
                Ok(contents) => contents,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(PortError::NotFound(format!("blob {owned_key}")));
                }
                Err(error) => return Err(io_failure("read the blob", &path, error)),
            };
            let (header, bytes) = decode_blob(contents).map_err(|reason| {
                PortError::Backend(format!("blob file {} is damaged: {reason}", path.display()))
            })?;
            let info = BlobInfo {
                key: owned_key,
                content_type: header.content_type,
                size: bytes.len() as u64,
            };
            Ok((info, bytes))
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.blob_path(key)?;
        run_blocking(move || match fs::remove_file(&path) {
            // Deleting what is not there succeeds, as on S3, so a retried delete is harmless.
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                Err(io_failure("delete the blob", &path, error))
            }
            _ => Ok(()),
        })
        .await
    }
}

fn encode_header(content_type: &str) -> Result<Vec<u8>, PortError> {
    // serde_json escapes control characters, so the header is exactly one line.
    let mut line = serde_json::to_vec(&Header {
        content_type: content_type.to_owned(),
    })
    .map_err(|error| PortError::Backend(format!("encode blob header: {error}")))?;
    line.push(b'\n');
    Ok(line)
}

/// Splits a blob file into its header and its bytes (reusing the buffer for the bytes).
fn decode_blob(mut contents: Vec<u8>) -> Result<(Header, Vec<u8>), String> {
    let header_end = contents
        .iter()
        .take(MAX_HEADER_LEN)
        .position(|&b| b == b'\n')
        .ok_or("no header line")?;
    let header: Header = serde_json::from_slice(&contents[..header_end])
        .map_err(|error| format!("bad header: {error}"))?;
    contents.drain(..=header_end);
    Ok((header, contents))
}

/// Writes header and bytes as the blob file `path`, creating its folder first; a temporary file
/// beside it is renamed over it once complete ([`write_atomically`]).
fn write_blob(path: &Path, header: &[u8], bytes: &[u8]) -> Result<(), PortError> {
    let (folder, file_name) = match (path.parent(), path.file_name()) {
        (Some(folder), Some(file_name)) => (folder, file_name.to_string_lossy()),
        _ => {
            return Err(PortError::Backend(format!(
                "blob path {} has no folder",
                path.display()
            )));
        }
    };
    fs::create_dir_all(folder)
        .map_err(|error| io_failure("create the blob's folder", folder, error))?;
    let temp_path = folder.join(format!(
        "{file_name}{TEMP_MARKER}{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    write_atomically(path, &temp_path, &[header, bytes], "write the blob")
}

/// Runs file-system work off the async worker threads: a 5 MB write must not stall other requests.
async fn run_blocking<T, F>(work: F) -> Result<T, PortError>
where
    F: FnOnce() -> Result<T, PortError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| PortError::Backend(format!("blob file task failed: {error}")))?
}

#[cfg(test)]
mod tests {
    use std::path::Component;

    use super::*;

    /// A folder of its own under the system temporary folder, removed when dropped.
    struct ScratchFolder(PathBuf);

    impl ScratchFolder {
        fn new(name: &str) -> Self {
            let unique = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "docket-file-blobs-{name}-{}-{unique}",
                std::process::id()
            ));
            let _ = fs::remove_dir_all(&path);
            ScratchFolder(path)
        }
    }

    impl Drop for ScratchFolder {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Every path below `folder`, relative to it, sorted.
    fn entries_below(folder: &Path) -> Vec<String> {
        fn walk(folder: &Path, base: &Path, found: &mut Vec<String>) {
            for entry in fs::read_dir(folder).expect("list folder").flatten() {
                let path = entry.path();
                found.push(
                    path.strip_prefix(base)
                        .expect("below base")
                        .display()
                        .to_string(),
                );
                if path.is_dir() {
                    walk(&path, base, found);
                }
            }
        }
        let mut found = Vec::new();
        walk(folder, folder, &mut found);
        found.sort();
        found
    }

    /// Every string of up to `max_len` characters over `alphabet`.
    fn all_strings(alphabet: &[char], max_len: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut previous = vec![String::new()];
        for _ in 0..max_len {
            let next: Vec<String> = previous
                .iter()
                .flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}")))
                .collect();
            all.extend(next.iter().cloned());
            previous = next;
        }
        all
    }

    #[test]
    fn no_key_maps_to_a_path_outside_the_root() {
        // GIVEN a store and every key of up to six characters over an alphabet rich in path syntax
        let scratch = ScratchFolder::new("escape");
        let store = FileBlobStore::new(scratch.0.join("root")).expect("create store");
        let alphabet = ['a', '.', '/', '\\', ':', '~', ' ', '@'];
        let keys = all_strings(&alphabet, 6);
        let mut accepted = 0;

        for key in &keys {
            // WHEN the key is mapped to a file
            let Ok(path) = store.blob_path(key) else {
                continue;
            };
            accepted += 1;

            // THEN the file lies strictly below the root, reached by plain folder names only
            let relative = path
                .strip_prefix(store.root())
                .unwrap_or_else(|_| panic!("{key:?} escaped to {path:?}"));
            assert!(
                relative
                    .components()
                    .all(|c| matches!(c, Component::Normal(_))),
                "{key:?} maps to {path:?}, which has a non-plain component"
            );
            assert_eq!(
                relative.components().count(),
                key.split('/').count(),
                "{key:?} maps to {path:?}"
            );
        }
        // (and the enumeration did reach valid keys, so the loop above asserted something)
        assert!(accepted > 100, "only {accepted} keys were accepted");
    }

    #[test]
    fn hostile_keys_are_refused_before_any_path_is_built() {
        // GIVEN a store
        let scratch = ScratchFolder::new("hostile");
        let store = FileBlobStore::new(scratch.0.join("root")).expect("create store");

        for key in [
            "../x",
            "..",
            ".",
            "/etc/passwd",
            "a/../../b",
            "a/./b",
            "..\\x",
            "C:\\x",
            "C:x/y",
            "%2e%2e/x",
            "a\0b",
            "~/x",
            "a/b/",
        ] {
            // WHEN the key is mapped to a file
            let mapped = store.blob_path(key);

            // THEN it is refused as invalid
            assert!(
                matches!(mapped, Err(PortError::Invalid(_))),
                "{key:?} gave {mapped:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_put_writes_nothing_inside_or_beside_the_root() {
        // GIVEN a store whose root sits inside an otherwise empty scratch folder
        let scratch = ScratchFolder::new("nothing-written");
        let store = FileBlobStore::new(scratch.0.join("root")).expect("create store");

        // WHEN puts with escaping keys are attempted
        for key in [
            "../outside",
            "../../outside",
            "/tmp/outside",
            "a/../../outside",
        ] {
            let put = store.put(key, "text/plain", b"escaped".to_vec()).await;
            assert!(
                matches!(put, Err(PortError::Invalid(_))),
                "{key:?} gave {put:?}"
            );
        }

        // THEN the scratch folder holds only the empty root
        assert_eq!(entries_below(&scratch.0), vec!["root".to_owned()]);
    }

    #[tokio::test]
    async fn a_blob_and_a_folder_of_the_same_name_coexist() {
        // GIVEN a blob `a` and a blob `a/b`, whose folder is named like the first blob's key
        let scratch = ScratchFolder::new("coexist");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        store
            .put("a", "text/plain", b"outer".to_vec())
            .await
            .expect("put a");
        store
            .put("a/b", "text/plain", b"inner".to_vec())
            .await
            .expect("put a/b");

        // WHEN both are read
        let (_, outer) = store.get("a").await.expect("get a");
        let (_, inner) = store.get("a/b").await.expect("get a/b");

        // THEN each holds its own bytes, stored as `a@blob` beside the folder `a`
        assert_eq!(
            (outer.as_slice(), inner.as_slice()),
            (&b"outer"[..], &b"inner"[..])
        );
        assert_eq!(entries_below(&scratch.0), vec!["a", "a/b@blob", "a@blob"]);
    }

    #[tokio::test]
    async fn the_longest_segments_fit_in_file_names_without_colliding() {
        // GIVEN keys whose segments exceed a file name's 255 bytes, and keys that share their start
        let scratch = ScratchFolder::new("long");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        let longest = "a".repeat(512);
        let chunk_then_rest = format!("{}/b", "a".repeat(MAX_NAME_CHUNK));
        let exactly_one_chunk = "a".repeat(MAX_NAME_CHUNK);
        let keys = [
            longest.as_str(),
            chunk_then_rest.as_str(),
            exactly_one_chunk.as_str(),
        ];

        // WHEN each is written with its own bytes
        for key in keys {
            store
                .put(key, "text/plain", key.as_bytes().to_vec())
                .await
                .expect("put long key");
        }

        // THEN each reads back its own bytes, and no file name exceeds the limit
        for key in keys {
            let (info, bytes) = store.get(key).await.expect("get long key");
            assert_eq!(
                (info.size, bytes.as_slice()),
                (key.len() as u64, key.as_bytes())
            );
        }
        for entry in entries_below(&scratch.0) {
            let longest_name = entry.split('/').map(str::len).max().unwrap_or_default();
            assert!(
                longest_name <= MAX_NAME_CHUNK + BLOB_SUFFIX.len(),
                "{entry} has a {longest_name}-byte name"
            );
        }
    }

    #[tokio::test]
    async fn a_leftover_temporary_file_is_ignored() {
        // GIVEN a blob, and a temporary file beside it as a crash in the middle of a put leaves
        let scratch = ScratchFolder::new("leftover");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        store
            .put("x", "text/plain", b"whole".to_vec())
            .await
            .expect("put");
        fs::write(
            scratch.0.join(format!("x{BLOB_SUFFIX}{TEMP_MARKER}1-1")),
            b"{\"content_type\":\"text/pl",
        )
        .expect("write leftover");

        // WHEN the blob is read and replaced
        let (_, before) = store.get("x").await.expect("get before");
        store
            .put("x", "text/csv", b"new".to_vec())
            .await
            .expect("replace");
        let (info, after) = store.get("x").await.expect("get after");

        // THEN only the renamed files count
        assert_eq!(before, b"whole");
        assert_eq!(
            (info.content_type.as_str(), after.as_slice()),
            ("text/csv", &b"new"[..])
        );
    }

    #[tokio::test]
    async fn a_damaged_blob_file_is_a_backend_failure() {
        // GIVEN a blob file without a header line, as a foreign program might leave
        let scratch = ScratchFolder::new("damaged");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        fs::write(
            scratch.0.join(format!("x{BLOB_SUFFIX}")),
            vec![b'z'; MAX_HEADER_LEN + 1],
        )
        .expect("write foreign file");

        // WHEN it is read
        let read = store.get("x").await;

        // THEN the failure is reported as the store's, not as a missing or invalid blob
        assert!(matches!(read, Err(PortError::Backend(_))), "{read:?}");
    }

    #[test]
    fn the_header_is_a_single_line_even_for_odd_content_types() {
        // GIVEN a content type with a quote and a backslash
        let header = encode_header(r#"text/plain; name="a\b""#).expect("encode");

        // WHEN the header is decoded in front of bytes that themselves contain newlines
        let mut contents = header.clone();
        contents.extend_from_slice(b"line 1\nline 2\n");
        let (decoded, bytes) = decode_blob(contents).expect("decode");

        // THEN the single newline is the header's last byte and both parts come back unchanged
        assert_eq!(header.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(decoded.content_type, r#"text/plain; name="a\b""#);
        assert_eq!(bytes, b"line 1\nline 2\n");
    }
}
