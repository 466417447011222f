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
//! Presigned requests. A folder has no URLs of its own, so a store given a base URL and a secret
//! ([`FileBlobStore::with_signed_urls`]) signs URLs to the local server that serves it:
//! `{base}/blobs/upload/{token}` and `{base}/blobs/download/{token}`. The token is the grant
//! (direction, key, content type, size limit or file name, expiry in milliseconds) as base64url
//! JSON, a dot, and its HMAC-SHA256 under a key derived from the secret for this use only, so a
//! token is neither an API token nor the other direction's. The server's routes (the API crate's
//! `signed_blob_router`) ask [`SignedUrlBlobs`] what a token grants, which fails for anything
//! forged, altered or expired.
//!
//! Limitation: on a case-insensitive file system (macOS and Windows defaults) keys that differ
//! only in case share a file, whereas S3 keeps them apart. Docket's own keys never rely on case.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use docket_ports::{
    BlobInfo, BlobStore, DownloadGrant, PortError, PresignedRequest, SIGNED_DOWNLOAD_PATH, SIGNED_UPLOAD_PATH, SignedUrlBlobs, UploadGrant, validate_blob_key,
    validate_content_type, validate_presigning,
};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::atomic_file::{io_failure, write_atomically, write_atomically_new};

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
    signer: Option<Arc<UrlSigner>>,
}

impl FileBlobStore {
    /// A store keeping its blobs under `root`, which is created when missing. It presigns no
    /// requests until given [`FileBlobStore::with_signed_urls`].
    pub fn new(root: PathBuf) -> Result<Self, PortError> {
        fs::create_dir_all(&root).map_err(|error| io_failure("create the blob folder", &root, error))?;
        Ok(FileBlobStore { root, signer: None })
    }

    /// Presigns requests as URLs under `base_url` (the local server's address as clients reach
    /// it, `http://127.0.0.1:8080`), signed with a key derived from `secret`: only a store with
    /// the same secret accepts them.
    pub fn with_signed_urls(mut self, base_url: &str, secret: &[u8]) -> Result<Self, PortError> {
        let base_url = base_url.trim().trim_end_matches('/');
        let scheme_ok = base_url.starts_with("http://") || base_url.starts_with("https://");
        if !scheme_ok || base_url.len() > 500 || base_url.bytes().any(|b| !b.is_ascii_graphic()) {
            return Err(PortError::Invalid(format!("{base_url:?} is not a base URL for blob requests")));
        }
        if secret.len() < 16 {
            return Err(PortError::Invalid("the URL signing secret is too short".to_owned()));
        }
        let mut derive = new_mac(secret);
        derive.update(URL_KEY_PURPOSE);
        self.signer = Some(Arc::new(UrlSigner { base_url: base_url.to_owned(), key: derive.finalize().into_bytes().to_vec() }));
        Ok(self)
    }

    fn signer(&self) -> Result<&UrlSigner, PortError> {
        self.signer.as_deref().ok_or_else(|| PortError::Invalid("this blob folder has no URL to presign requests with".to_owned()))
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
            let suffix = if segments.peek().is_some() { "" } else { BLOB_SUFFIX };
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
    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<BlobInfo, PortError> {
        let path = self.blob_path(key)?;
        validate_content_type(content_type)?;
        let header = encode_header(content_type)?;
        let size = bytes.len() as u64;
        run_blocking(move || write_blob(&path, &header, &bytes, false)).await?;
        Ok(BlobInfo { key: key.to_owned(), content_type: content_type.to_owned(), size })
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
            let (header, bytes) = decode_blob(contents).map_err(|reason| PortError::Backend(format!("blob file {} is damaged: {reason}", path.display())))?;
            let info = BlobInfo { key: owned_key, content_type: header.content_type, size: bytes.len() as u64 };
            Ok((info, bytes))
        })
        .await
    }

    async fn head(&self, key: &str) -> Result<BlobInfo, PortError> {
        let path = self.blob_path(key)?;
        let owned_key = key.to_owned();
        run_blocking(move || {
            let file = match fs::File::open(&path) {
                Ok(file) => file,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(PortError::NotFound(format!("blob {owned_key}")));
                }
                Err(error) => return Err(io_failure("open the blob", &path, error)),
            };
            let length = file.metadata().map_err(|error| io_failure("read the blob's size", &path, error))?.len();
            let mut line = Vec::new();
            io::BufReader::new(file).take(MAX_HEADER_LEN as u64).read_until(b'\n', &mut line).map_err(|error| io_failure("read the blob", &path, error))?;
            let damaged = |reason: String| PortError::Backend(format!("blob file {} is damaged: {reason}", path.display()));
            if line.pop() != Some(b'\n') {
                return Err(damaged("no header line".to_owned()));
            }
            let header: Header = serde_json::from_slice(&line).map_err(|error| damaged(format!("bad header: {error}")))?;
            Ok(BlobInfo { key: owned_key, content_type: header.content_type, size: length - line.len() as u64 - 1 })
        })
        .await
    }

    async fn presign_upload(&self, grant: &UploadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError> {
        validate_presigning(&grant.key, &grant.content_type, valid_for)?;
        let signer = self.signer()?;
        let expires_at = SystemTime::now() + valid_for;
        let token = signer.sign(&Signed::Upload {
            key: grant.key.clone(),
            content_type: grant.content_type.clone(),
            max_size: grant.max_size,
            exp: millis(expires_at),
        })?;
        Ok(PresignedRequest {
            method: "PUT".to_owned(),
            url: format!("{}{SIGNED_UPLOAD_PATH}/{token}", signer.base_url),
            headers: vec![("content-type".to_owned(), grant.content_type.clone()), ("if-none-match".to_owned(), "*".to_owned())],
            expires_at,
        })
    }

    async fn presign_download(&self, grant: &DownloadGrant, valid_for: Duration) -> Result<PresignedRequest, PortError> {
        validate_presigning(&grant.key, &grant.content_type, valid_for)?;
        let signer = self.signer()?;
        let expires_at = SystemTime::now() + valid_for;
        let token = signer.sign(&Signed::Download {
            key: grant.key.clone(),
            content_type: grant.content_type.clone(),
            file_name: grant.file_name.clone(),
            exp: millis(expires_at),
        })?;
        Ok(PresignedRequest { method: "GET".to_owned(), url: format!("{}{SIGNED_DOWNLOAD_PATH}/{token}", signer.base_url), headers: Vec::new(), expires_at })
    }

    async fn delete(&self, key: &str) -> Result<(), PortError> {
        let path = self.blob_path(key)?;
        run_blocking(move || match fs::remove_file(&path) {
            // Deleting what is not there succeeds, as on S3, so a retried delete is harmless.
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(io_failure("delete the blob", &path, error)),
            _ => Ok(()),
        })
        .await
    }
}

#[async_trait]
impl SignedUrlBlobs for FileBlobStore {
    fn upload_grant(&self, token: &str) -> Result<UploadGrant, PortError> {
        match self.signer()?.verify(token)? {
            Signed::Upload { key, content_type, max_size, .. } => Ok(UploadGrant { key, content_type, max_size }),
            Signed::Download { .. } => Err(PortError::Invalid("a download URL does not upload".to_owned())),
        }
    }

    fn download_grant(&self, token: &str) -> Result<DownloadGrant, PortError> {
        match self.signer()?.verify(token)? {
            Signed::Download { key, content_type, file_name, .. } => Ok(DownloadGrant { key, content_type, file_name }),
            Signed::Upload { .. } => Err(PortError::Invalid("an upload URL does not download".to_owned())),
        }
    }

    async fn put_new(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<Option<BlobInfo>, PortError> {
        let path = self.blob_path(key)?;
        validate_content_type(content_type)?;
        let header = encode_header(content_type)?;
        let size = bytes.len() as u64;
        let created = run_blocking(move || write_blob(&path, &header, &bytes, true)).await?;
        Ok(created.then(|| BlobInfo { key: key.to_owned(), content_type: content_type.to_owned(), size }))
    }
}

/// What the HMAC key of URL tokens is derived for, so that it is no other key made from the
/// same secret (the local API tokens are signed with the secret itself).
const URL_KEY_PURPOSE: &[u8] = b"docket blob URL tokens v1";

/// The grant a URL token carries, signed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum Signed {
    Upload { key: String, content_type: String, max_size: u64, exp: u64 },
    Download { key: String, content_type: String, file_name: String, exp: u64 },
}

/// Signs and checks URL tokens. The key is never printed.
struct UrlSigner {
    base_url: String,
    key: Vec<u8>,
}

impl fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UrlSigner").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl UrlSigner {
    fn sign(&self, grant: &Signed) -> Result<String, PortError> {
        let json = serde_json::to_vec(grant).map_err(|error| PortError::Backend(format!("encode a URL grant: {error}")))?;
        let payload = URL_SAFE_NO_PAD.encode(json);
        let mut mac = new_mac(&self.key);
        mac.update(payload.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Ok(format!("{payload}.{signature}"))
    }

    /// The grant of a token signed with this key and not yet expired.
    fn verify(&self, token: &str) -> Result<Signed, PortError> {
        let refused = |why: &str| PortError::Invalid(format!("the URL {why}"));
        let (payload, signature) = token.split_once('.').ok_or_else(|| refused("is not a signed URL"))?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| refused("has a malformed signature"))?;
        let mut mac = new_mac(&self.key);
        mac.update(payload.as_bytes());
        // Compared in constant time: timing reveals nothing of the right signature.
        mac.verify_slice(&signature).map_err(|_| refused("has a wrong signature"))?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused("is malformed"))?;
        let grant: Signed = serde_json::from_slice(&json).map_err(|_| refused("is malformed"))?;
        let exp = match &grant {
            Signed::Upload { exp, .. } | Signed::Download { exp, .. } => *exp,
        };
        if millis(SystemTime::now()) >= exp {
            return Err(refused("has expired"));
        }
        Ok(grant)
    }
}

fn new_mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts any key length")
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn encode_header(content_type: &str) -> Result<Vec<u8>, PortError> {
    // serde_json escapes control characters, so the header is exactly one line.
    let mut line =
        serde_json::to_vec(&Header { content_type: content_type.to_owned() }).map_err(|error| PortError::Backend(format!("encode blob header: {error}")))?;
    line.push(b'\n');
    Ok(line)
}

/// Splits a blob file into its header and its bytes (reusing the buffer for the bytes).
fn decode_blob(mut contents: Vec<u8>) -> Result<(Header, Vec<u8>), String> {
    let header_end = contents.iter().take(MAX_HEADER_LEN).position(|&b| b == b'\n').ok_or("no header line")?;
    let header: Header = serde_json::from_slice(&contents[..header_end]).map_err(|error| format!("bad header: {error}"))?;
    contents.drain(..=header_end);
    Ok((header, contents))
}

/// Writes header and bytes as the blob file `path`, creating its folder first; a temporary file
/// beside it is renamed over it once complete ([`write_atomically`]), or, for `only_new`, linked
/// to it unless the name is taken ([`write_atomically_new`]: `false` then).
fn write_blob(path: &Path, header: &[u8], bytes: &[u8], only_new: bool) -> Result<bool, PortError> {
    let (folder, file_name) = match (path.parent(), path.file_name()) {
        (Some(folder), Some(file_name)) => (folder, file_name.to_string_lossy()),
        _ => {
            return Err(PortError::Backend(format!("blob path {} has no folder", path.display())));
        }
    };
    fs::create_dir_all(folder).map_err(|error| io_failure("create the blob's folder", folder, error))?;
    let temp_path = folder.join(format!("{file_name}{TEMP_MARKER}{}-{}", std::process::id(), TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)));
    if only_new {
        write_atomically_new(path, &temp_path, &[header, bytes], "write the blob")
    } else {
        write_atomically(path, &temp_path, &[header, bytes], "write the blob").map(|()| true)
    }
}

/// Runs file-system work off the async worker threads: a 5 MB write must not stall other requests.
async fn run_blocking<T, F>(work: F) -> Result<T, PortError>
where
    F: FnOnce() -> Result<T, PortError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|error| PortError::Backend(format!("blob file task failed: {error}")))?
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
            let path = std::env::temp_dir().join(format!("docket-file-blobs-{name}-{}-{unique}", std::process::id()));
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
                found.push(path.strip_prefix(base).expect("below base").display().to_string());
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
            let next: Vec<String> = previous.iter().flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}"))).collect();
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
            let relative = path.strip_prefix(store.root()).unwrap_or_else(|_| panic!("{key:?} escaped to {path:?}"));
            assert!(relative.components().all(|c| matches!(c, Component::Normal(_))), "{key:?} maps to {path:?}, which has a non-plain component");
            assert_eq!(relative.components().count(), key.split('/').count(), "{key:?} maps to {path:?}");
        }
        // (and the enumeration did reach valid keys, so the loop above asserted something)
        assert!(accepted > 100, "only {accepted} keys were accepted");
    }

    #[test]
    fn hostile_keys_are_refused_before_any_path_is_built() {
        // GIVEN a store
        let scratch = ScratchFolder::new("hostile");
        let store = FileBlobStore::new(scratch.0.join("root")).expect("create store");

        for key in ["../x", "..", ".", "/etc/passwd", "a/../../b", "a/./b", "..\\x", "C:\\x", "C:x/y", "%2e%2e/x", "a\0b", "~/x", "a/b/"] {
            // WHEN the key is mapped to a file
            let mapped = store.blob_path(key);

            // THEN it is refused as invalid
            assert!(matches!(mapped, Err(PortError::Invalid(_))), "{key:?} gave {mapped:?}");
        }
    }

    #[tokio::test]
    async fn a_refused_put_writes_nothing_inside_or_beside_the_root() {
        // GIVEN a store whose root sits inside an otherwise empty scratch folder
        let scratch = ScratchFolder::new("nothing-written");
        let store = FileBlobStore::new(scratch.0.join("root")).expect("create store");

        // WHEN puts with escaping keys are attempted
        for key in ["../outside", "../../outside", "/tmp/outside", "a/../../outside"] {
            let put = store.put(key, "text/plain", b"escaped".to_vec()).await;
            assert!(matches!(put, Err(PortError::Invalid(_))), "{key:?} gave {put:?}");
        }

        // THEN the scratch folder holds only the empty root
        assert_eq!(entries_below(&scratch.0), vec!["root".to_owned()]);
    }

    #[tokio::test]
    async fn a_blob_and_a_folder_of_the_same_name_coexist() {
        // GIVEN a blob `a` and a blob `a/b`, whose folder is named like the first blob's key
        let scratch = ScratchFolder::new("coexist");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        store.put("a", "text/plain", b"outer".to_vec()).await.expect("put a");
        store.put("a/b", "text/plain", b"inner".to_vec()).await.expect("put a/b");

        // WHEN both are read
        let (_, outer) = store.get("a").await.expect("get a");
        let (_, inner) = store.get("a/b").await.expect("get a/b");

        // THEN each holds its own bytes, stored as `a@blob` beside the folder `a`
        assert_eq!((outer.as_slice(), inner.as_slice()), (&b"outer"[..], &b"inner"[..]));
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
        let keys = [longest.as_str(), chunk_then_rest.as_str(), exactly_one_chunk.as_str()];

        // WHEN each is written with its own bytes
        for key in keys {
            store.put(key, "text/plain", key.as_bytes().to_vec()).await.expect("put long key");
        }

        // THEN each reads back its own bytes, and no file name exceeds the limit
        for key in keys {
            let (info, bytes) = store.get(key).await.expect("get long key");
            assert_eq!((info.size, bytes.as_slice()), (key.len() as u64, key.as_bytes()));
        }
        for entry in entries_below(&scratch.0) {
            let longest_name = entry.split('/').map(str::len).max().unwrap_or_default();
            assert!(longest_name <= MAX_NAME_CHUNK + BLOB_SUFFIX.len(), "{entry} has a {longest_name}-byte name");
        }
    }

    #[tokio::test]
    async fn a_leftover_temporary_file_is_ignored() {
        // GIVEN a blob, and a temporary file beside it as a crash in the middle of a put leaves
        let scratch = ScratchFolder::new("leftover");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        store.put("x", "text/plain", b"whole".to_vec()).await.expect("put");
        fs::write(scratch.0.join(format!("x{BLOB_SUFFIX}{TEMP_MARKER}1-1")), b"{\"content_type\":\"text/pl").expect("write leftover");

        // WHEN the blob is read and replaced
        let (_, before) = store.get("x").await.expect("get before");
        store.put("x", "text/csv", b"new".to_vec()).await.expect("replace");
        let (info, after) = store.get("x").await.expect("get after");

        // THEN only the renamed files count
        assert_eq!(before, b"whole");
        assert_eq!((info.content_type.as_str(), after.as_slice()), ("text/csv", &b"new"[..]));
    }

    #[tokio::test]
    async fn a_damaged_blob_file_is_a_backend_failure() {
        // GIVEN a blob file without a header line, as a foreign program might leave
        let scratch = ScratchFolder::new("damaged");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");
        fs::write(scratch.0.join(format!("x{BLOB_SUFFIX}")), vec![b'z'; MAX_HEADER_LEN + 1]).expect("write foreign file");

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

    fn token_of(url: &str) -> &str {
        url.rsplit_once('/').expect("a token at the end").1
    }

    #[tokio::test]
    async fn only_untouched_unexpired_tokens_of_the_right_direction_and_secret_are_granted() {
        // GIVEN a store signing URLs, one with another secret, and tokens of both directions
        let scratch = ScratchFolder::new("tokens");
        let secret = b"a local secret of thirty-two b.";
        let store = FileBlobStore::new(scratch.0.clone()).and_then(|s| s.with_signed_urls("http://127.0.0.1:8080/", secret)).expect("store");
        let other = FileBlobStore::new(scratch.0.clone())
            .and_then(|s| s.with_signed_urls("http://127.0.0.1:8080", b"another secret, just as long..."))
            .expect("other store");
        let upload = UploadGrant { key: "cases/c/attachments/a".into(), content_type: "image/png".into(), max_size: 42 };
        let download = DownloadGrant { key: "cases/c/attachments/a".into(), content_type: "image/png".into(), file_name: "a.png".into() };
        let put = store.presign_upload(&upload, Duration::from_secs(60)).await.expect("presign upload");
        let get = store.presign_download(&download, Duration::from_secs(60)).await.expect("presign download");

        // THEN the URLs go to the base URL's routes, and each token grants what was signed
        assert!(put.url.starts_with("http://127.0.0.1:8080/blobs/upload/"), "{}", put.url);
        assert!(get.url.starts_with("http://127.0.0.1:8080/blobs/download/"), "{}", get.url);
        assert_eq!(store.upload_grant(token_of(&put.url)).expect("upload grant"), upload);
        assert_eq!(store.download_grant(token_of(&get.url)).expect("download grant"), download);

        // AND a token used for the other direction, checked by another secret, altered in its
        // grant or its signature, or cut short, is refused
        let refused = |result: Result<(), PortError>, what: &str| {
            assert!(matches!(result, Err(PortError::Invalid(_))), "{what}: {result:?}");
        };
        let (payload, signature) = token_of(&put.url).split_once('.').expect("two parts");
        let bigger = URL_SAFE_NO_PAD.encode(String::from_utf8(URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON").replace("42", "4200000000"));
        let mut flipped = signature.as_bytes().to_vec();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).expect("ASCII");
        refused(store.download_grant(token_of(&put.url)).map(drop), "upload token as download");
        refused(store.upload_grant(token_of(&get.url)).map(drop), "download token as upload");
        refused(other.upload_grant(token_of(&put.url)).map(drop), "another secret");
        refused(store.upload_grant(&format!("{bigger}.{signature}")).map(drop), "a larger size");
        refused(store.upload_grant(&format!("{payload}.{flipped}")).map(drop), "a flipped signature");
        refused(store.upload_grant(payload).map(drop), "no signature");
        refused(store.upload_grant("").map(drop), "nothing");

        // AND a token past its expiry is refused
        let short = store.presign_upload(&upload, Duration::from_secs(1)).await.expect("presign");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        refused(store.upload_grant(token_of(&short.url)).map(drop), "expired");

        // AND a store without a base URL presigns nothing, and bad base URLs are refused
        let plain = FileBlobStore::new(scratch.0.clone()).expect("plain store");
        assert!(matches!(plain.presign_upload(&upload, Duration::from_secs(60)).await, Err(PortError::Invalid(_))));
        for base in ["ftp://host", "127.0.0.1:8080", "http://a b", ""] {
            let made = FileBlobStore::new(scratch.0.clone()).and_then(|s| s.with_signed_urls(base, secret));
            assert!(matches!(made, Err(PortError::Invalid(_))), "{base:?}");
        }
    }

    #[tokio::test]
    async fn put_new_stores_once_and_head_reads_only_the_header() {
        // GIVEN an empty store
        let scratch = ScratchFolder::new("put-new");
        let store = FileBlobStore::new(scratch.0.clone()).expect("create store");

        // WHEN a blob is put only if new, twice
        let first = store.put_new("a/b", "text/plain", b"first".to_vec()).await.expect("first");
        let second = store.put_new("a/b", "text/html", b"<b>second</b>".to_vec()).await.expect("second");

        // THEN the first is stored, the second is not, and nothing else is left in the folder
        assert_eq!(first.map(|i| i.size), Some(5));
        assert_eq!(second, None);
        assert_eq!(store.head("a/b").await.expect("head"), BlobInfo { key: "a/b".into(), content_type: "text/plain".into(), size: 5 });
        assert_eq!(store.get("a/b").await.expect("get").1, b"first");
        assert_eq!(entries_below(&scratch.0), vec!["a".to_owned(), format!("a/b{BLOB_SUFFIX}")]);
    }
}
