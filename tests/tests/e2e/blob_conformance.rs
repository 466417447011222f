//! The conformance suite of the blob port (`docket_ports::BlobStore`).
//!
//! Every test below is one set of assertions, run identically on the folder adapter
//! (`FileBlobStore`, the "sqlite" engine: what the local process uses beside its SQLite file) and
//! on the S3 adapter (`S3BlobStore`, the "dynamo" engine: what the Lambdas use, here through the
//! emulator): `on_both_engines!` turns each `async fn name(engine)` into `sqlite::name` and
//! `dynamo::name`. Each S3 test gets a bucket of its own; each folder test a folder of its own.
//!
//! Each test reads GIVEN / WHEN / THEN. Whenever a write is refused, the suite lists what the
//! backing folder or bucket holds to check that nothing was written.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use docket_e2e::Engine;
use docket_ports::{BlobInfo, BlobStore, DownloadGrant, PortError, PresignedRequest, UploadGrant};

/// The S3 adapter's object prefix in these tests, so that the suite also covers prefixing.
const S3_PREFIX: &str = "blobs/";
/// The folder adapter's file-name suffix (see `docket_embedded::file_blobs`), stripped to
/// report stored files as keys.
const FOLDER_BLOB_SUFFIX: &str = "@blob";

// -------------------------------------------------------------------------------------------------
// Helpers

/// Lists what the backing storage holds, as blob keys where the entry is a blob and as raw names
/// otherwise (a stray temporary file, an object outside the prefix), sorted.
type Listing = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<String>> + Send>> + Send + Sync>;

/// A fresh, empty blob store of one engine and a way to look behind it.
struct Fixture {
    store: Arc<dyn BlobStore>,
    list_stored: Listing,
    /// Keeps the folder of the folder adapter alive (and removes it at the end of the test).
    _scratch: Option<ScratchFolder>,
}

impl Fixture {
    async fn stored(&self) -> Vec<String> {
        (self.list_stored)().await
    }
}

async fn fresh(engine: Engine) -> Fixture {
    match engine {
        Engine::Sqlite => {
            let scratch = ScratchFolder::new();
            // Its presigned URLs go to a server of the folder's routes, as `docket serve` runs.
            let store = docket_e2e::serve_blob_folder(scratch.0.clone()).await;
            let root = scratch.0.clone();
            let list_stored: Listing = Box::new(move || {
                let root = root.clone();
                Box::pin(async move { folder_keys(&root) })
            });
            Fixture { store, list_stored, _scratch: Some(scratch) }
        }
        Engine::Dynamo => {
            let sdk = docket_aws::config::emulator_sdk_config(&docket_e2e::aws_endpoint()).await;
            let client = docket_aws::config::s3_client(&sdk);
            // Tests share one emulator and run in parallel: every store gets a bucket of its own.
            let bucket = format!("blobs-{}", ulid::Ulid::new().to_string().to_lowercase());
            let store = docket_aws::S3BlobStore::new(client.clone(), bucket.clone(), S3_PREFIX.to_owned());
            store.create_bucket().await.expect("create bucket on the emulator");
            // Local set-ups call this at every start, so a second call must succeed too.
            store.create_bucket().await.expect("create the same bucket again");
            let list_stored: Listing = Box::new(move || {
                let (client, bucket) = (client.clone(), bucket.clone());
                Box::pin(async move {
                    let listed = client.list_objects_v2().bucket(&bucket).send().await.expect("list the bucket");
                    let mut keys: Vec<String> = listed
                        .contents()
                        .iter()
                        .filter_map(|object| object.key())
                        .map(|name| name.strip_prefix(S3_PREFIX).unwrap_or(name).to_owned())
                        .collect();
                    keys.sort();
                    keys
                })
            });
            Fixture { store: Arc::new(store), list_stored, _scratch: None }
        }
    }
}

/// A folder of its own under the system temporary folder, removed when dropped.
struct ScratchFolder(PathBuf);

impl ScratchFolder {
    fn new() -> Self {
        let name = format!("docket-blob-conformance-{}", ulid::Ulid::new().to_string().to_lowercase());
        ScratchFolder(std::env::temp_dir().join(name))
    }
}

impl Drop for ScratchFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The files below `root` as keys: the folder adapter stores `a/b` as `a/b@blob` (segments
/// longer than a file name are split into folders ending in `@+`, joined back here).
fn folder_keys(root: &Path) -> Vec<String> {
    fn walk(folder: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).expect("list folder").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, found);
            } else {
                let relative = path.strip_prefix(root).expect("below root").to_string_lossy().replace("@+/", "");
                found.push(relative.strip_suffix(FOLDER_BLOB_SUFFIX).map(str::to_owned).unwrap_or(relative));
            }
        }
    }
    let mut found = Vec::new();
    walk(root, root, &mut found);
    found.sort();
    found
}

fn info(key: &str, content_type: &str, size: usize) -> BlobInfo {
    BlobInfo { key: key.to_owned(), content_type: content_type.to_owned(), size: size as u64 }
}

/// Bytes that look random (so no layer can compress or dedupe its way to a false pass), the same
/// on every run.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn assert_not_found<T: std::fmt::Debug>(result: Result<T, PortError>, what: &str) {
    assert!(matches!(result, Err(PortError::NotFound(_))), "{what}: expected NotFound, got {result:?}");
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, PortError>, what: &str) {
    assert!(matches!(result, Err(PortError::Invalid(_))), "{what}: expected Invalid, got {result:?}");
}

// -------------------------------------------------------------------------------------------------
// Round trips

async fn round_trip_keeps_bytes_and_content_type(engine: Engine) {
    // GIVEN an empty store and blobs of text, of every byte value (NULs first), of 5 MB, of nothing
    let fixture = fresh(engine).await;
    let mut every_byte: Vec<u8> = vec![0, 0, 0];
    every_byte.extend((0..=255u8).cycle().take(4096));
    let blobs = [
        ("notes/hello.txt", "text/plain; charset=utf-8", "héllo, wörld\n".as_bytes().to_vec()),
        ("raw/every-byte.bin", "application/octet-stream", every_byte),
        ("big/five-megabytes.pdf", "application/pdf", pseudo_random_bytes(5 * 1024 * 1024)),
        ("empty.txt", "text/plain", Vec::new()),
    ];

    for (key, content_type, bytes) in &blobs {
        // WHEN the blob is stored and read back
        let stored = fixture.store.put(key, content_type, bytes.clone()).await.expect("put");
        let (read_info, read_bytes) = fixture.store.get(key).await.expect("get");

        // THEN both report the key, content type and size, and the bytes are the very same
        assert_eq!(stored, info(key, content_type, bytes.len()), "put of {key}");
        assert_eq!(read_info, info(key, content_type, bytes.len()), "get of {key}");
        assert_eq!(read_bytes.len(), bytes.len(), "length of {key}");
        assert!(read_bytes == *bytes, "bytes of {key} differ");
    }
    assert_eq!(fixture.stored().await, vec!["big/five-megabytes.pdf", "empty.txt", "notes/hello.txt", "raw/every-byte.bin"]);
}

async fn put_replaces_the_previous_blob(engine: Engine) {
    // GIVEN a long text blob
    let fixture = fresh(engine).await;
    let key = "cases/01ABC/body.txt";
    fixture.store.put(key, "text/plain", vec![b'x'; 10_000]).await.expect("first put");

    // WHEN a shorter blob of another content type is put under the same key
    let replaced = fixture.store.put(key, "image/png", b"\x89PNG".to_vec()).await.expect("second put");

    // THEN only the second is there, with no trace of the first's bytes or content type
    let (read_info, read_bytes) = fixture.store.get(key).await.expect("get");
    assert_eq!(replaced, info(key, "image/png", 4));
    assert_eq!(read_info, info(key, "image/png", 4));
    assert_eq!(read_bytes, b"\x89PNG");
    assert_eq!(fixture.stored().await, vec![key]);
}

async fn concurrent_puts_leave_one_whole_blob(engine: Engine) {
    // GIVEN eight writers, each with its own content type and bytes for the same key
    let fixture = fresh(engine).await;
    let key = "contended/blob.bin";

    // WHEN they all put at once
    let writers: Vec<_> = (0..8u8)
        .map(|writer| {
            let store = fixture.store.clone();
            tokio::spawn(async move {
                let bytes = vec![writer; 64 * 1024 + usize::from(writer)];
                store.put(key, &format!("application/x-writer-{writer}"), bytes).await
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task").expect("put");
    }

    // THEN the blob is one writer's, whole: its content type matches its bytes and length
    let (read_info, read_bytes) = fixture.store.get(key).await.expect("get");
    let writer = *read_bytes.first().expect("non-empty blob");
    assert!(writer < 8, "unknown writer {writer}");
    assert_eq!(read_info, info(key, &format!("application/x-writer-{writer}"), 64 * 1024 + usize::from(writer)));
    assert!(read_bytes.iter().all(|&b| b == writer), "bytes of several writers are mixed");
    assert_eq!(fixture.stored().await, vec![key], "only the blob remains, no temporary file");
}

// -------------------------------------------------------------------------------------------------
// Missing blobs and deletion

async fn get_of_a_missing_key_is_not_found(engine: Engine) {
    // GIVEN a store holding only `cases/01ABC/attachments/x.pdf`
    let fixture = fresh(engine).await;
    fixture.store.put("cases/01ABC/attachments/x.pdf", "application/pdf", b"%PDF".to_vec()).await.expect("put");

    for key in ["never-stored", "cases/01ABC/attachments/y.pdf", "cases/01ABC", "cases", "cases/01ABC/attachments/x.pdf/more"] {
        // WHEN a key that was never stored is read, even one naming a folder of a stored key
        let read = fixture.store.get(key).await;

        // THEN it is not found
        assert_not_found(read, key);
    }
}

async fn delete_then_get_is_not_found(engine: Engine) {
    // GIVEN two blobs
    let fixture = fresh(engine).await;
    fixture.store.put("a/doomed.txt", "text/plain", b"bye".to_vec()).await.expect("put doomed");
    fixture.store.put("a/kept.txt", "text/plain", b"stay".to_vec()).await.expect("put kept");

    // WHEN one is deleted
    fixture.store.delete("a/doomed.txt").await.expect("delete");

    // THEN it is not found, and the other is untouched
    assert_not_found(fixture.store.get("a/doomed.txt").await, "deleted blob");
    let (_, kept) = fixture.store.get("a/kept.txt").await.expect("get kept");
    assert_eq!(kept, b"stay");
    assert_eq!(fixture.stored().await, vec!["a/kept.txt"]);
}

async fn delete_of_a_missing_key_is_ok(engine: Engine) {
    // GIVEN a store holding one blob
    let fixture = fresh(engine).await;
    fixture.store.put("present.txt", "text/plain", b"here".to_vec()).await.expect("put");

    // WHEN a key never stored is deleted, and the stored one is deleted twice
    let never_stored = fixture.store.delete("absent/never.txt").await;
    let first = fixture.store.delete("present.txt").await;
    let second = fixture.store.delete("present.txt").await;

    // THEN every delete succeeds and the store is empty
    assert!(never_stored.is_ok(), "delete of a never-stored key: {never_stored:?}");
    assert!(first.is_ok() && second.is_ok(), "deletes of a stored key: {first:?}, {second:?}");
    assert_eq!(fixture.stored().await, Vec::<String>::new());
}

// -------------------------------------------------------------------------------------------------
// Keys and content types

async fn invalid_keys_are_refused_and_nothing_is_written(engine: Engine) {
    // GIVEN an empty store and keys that escape, are absolute, have empty or dot segments, have
    // characters outside `[A-Za-z0-9._-]`, or are too long
    let fixture = fresh(engine).await;
    let too_long = "a".repeat(600);
    let too_long_by_one = "a".repeat(513);
    let invalid = [
        "../x",
        "/abs",
        "a//b",
        "a/../b",
        "",
        "a b",
        too_long.as_str(),
        too_long_by_one.as_str(),
        "..",
        ".",
        "./x",
        "a/",
        "a\\b",
        "a/./b",
        "ü.txt",
        "a\nb",
        "x?y",
        "%2e%2e/x",
    ];

    for key in invalid {
        // WHEN each is put, read and deleted
        let put = fixture.store.put(key, "text/plain", b"must not land".to_vec()).await;
        let get = fixture.store.get(key).await;
        let delete = fixture.store.delete(key).await;

        // THEN every call is refused as invalid
        assert_invalid(put, &format!("put {key:?}"));
        assert_invalid(get, &format!("get {key:?}"));
        assert_invalid(delete, &format!("delete {key:?}"));
    }
    // (and nothing reached the folder or the bucket, under any name)
    assert_eq!(fixture.stored().await, Vec::<String>::new());
}

async fn invalid_content_types_are_refused_and_nothing_is_written(engine: Engine) {
    // GIVEN an empty store and content types that could not travel as an HTTP header unchanged
    let fixture = fresh(engine).await;
    let too_long = format!("text/{}", "x".repeat(300));
    let invalid = ["", " text/plain", "text/plain ", "text/plain\r\nX-Injected: 1", "text/plän", too_long.as_str()];

    for content_type in invalid {
        // WHEN a blob is put with it
        let put = fixture.store.put("doc.txt", content_type, b"must not land".to_vec()).await;

        // THEN the put is refused as invalid
        assert_invalid(put, &format!("content type {content_type:?}"));
    }
    // (and nothing was written)
    assert_not_found(fixture.store.get("doc.txt").await, "refused blob");
    assert_eq!(fixture.stored().await, Vec::<String>::new());
}

async fn nested_keys_work_beside_blobs_named_like_their_folders(engine: Engine) {
    // GIVEN a blob deep in folders, and blobs whose keys are those folders' names
    let fixture = fresh(engine).await;
    let nested = "cases/01ABC/attachments/x.pdf";
    fixture.store.put(nested, "application/pdf", b"%PDF-1.7".to_vec()).await.expect("put nested");
    fixture.store.put("cases/01ABC", "application/json", b"{}".to_vec()).await.expect("put folder-named blob");
    fixture.store.put("cases/01ABC/attachments/x.pdf.json", "application/json", b"[]".to_vec()).await.expect("put sibling");

    // WHEN each is read
    let (nested_info, nested_bytes) = fixture.store.get(nested).await.expect("get nested");
    let (outer_info, outer_bytes) = fixture.store.get("cases/01ABC").await.expect("get folder-named blob");

    // THEN each has its own content, and all three are stored under their keys
    assert_eq!((nested_info, nested_bytes.as_slice()), (info(nested, "application/pdf", 8), &b"%PDF-1.7"[..]));
    assert_eq!((outer_info, outer_bytes.as_slice()), (info("cases/01ABC", "application/json", 2), &b"{}"[..]));
    assert_eq!(fixture.stored().await, vec!["cases/01ABC", "cases/01ABC/attachments/x.pdf", "cases/01ABC/attachments/x.pdf.json"]);

    // AND deleting the folder-named blob leaves the blobs inside that folder alone
    fixture.store.delete("cases/01ABC").await.expect("delete folder-named blob");
    assert_not_found(fixture.store.get("cases/01ABC").await, "deleted folder-named blob");
    assert_eq!(fixture.store.get(nested).await.expect("nested survives").1, b"%PDF-1.7");
}

async fn the_longest_valid_keys_work(engine: Engine) {
    // GIVEN keys of the maximum 512 characters: one segment, and 256 one-letter folders deep
    let fixture = fresh(engine).await;
    let one_segment = "k".repeat(512);
    let many_segments = vec!["d"; 256].join("/") + "k";
    assert_eq!((one_segment.len(), many_segments.len()), (512, 512));

    for key in [one_segment.as_str(), many_segments.as_str()] {
        // WHEN a blob is stored under it
        fixture.store.put(key, "text/plain", key.as_bytes().to_vec()).await.expect("put longest key");

        // THEN it reads back as stored
        let (read_info, read_bytes) = fixture.store.get(key).await.expect("get longest key");
        assert_eq!(read_info, info(key, "text/plain", 512));
        assert_eq!(read_bytes, key.as_bytes());
    }
    let mut expected = vec![one_segment.clone(), many_segments.clone()];
    expected.sort();
    assert_eq!(fixture.stored().await, expected);
}

// -------------------------------------------------------------------------------------------------
// Metadata and presigned requests

async fn head_reports_what_get_would_without_the_bytes(engine: Engine) {
    // GIVEN a blob of 3 MB and a blob of nothing
    let fixture = fresh(engine).await;
    fixture.store.put("big.bin", "application/zip", pseudo_random_bytes(3 * 1024 * 1024)).await.expect("put big");
    fixture.store.put("dir/empty.txt", "text/plain; charset=utf-8", Vec::new()).await.expect("put empty");

    // WHEN their metadata is asked for, and that of keys never stored
    let big = fixture.store.head("big.bin").await.expect("head big");
    let empty = fixture.store.head("dir/empty.txt").await.expect("head empty");

    // THEN it is what the puts reported, and a missing key is not found, an invalid one invalid
    assert_eq!(big, info("big.bin", "application/zip", 3 * 1024 * 1024));
    assert_eq!(empty, info("dir/empty.txt", "text/plain; charset=utf-8", 0));
    assert_not_found(fixture.store.head("dir").await, "a folder");
    assert_not_found(fixture.store.head("never/stored").await, "a key never stored");
    assert_invalid(fixture.store.head("../x").await, "an invalid key");
}

/// The presigned request sent with reqwest, as a browser or client would: its method, URL and
/// headers, and `body` for an upload.
async fn send_presigned(request: &PresignedRequest, body: Option<Vec<u8>>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("method");
    let mut builder = reqwest::Client::new().request(method, &request.url);
    for (name, value) in &request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = body {
        builder = builder.body(body);
    }
    builder.send().await.expect("the presigned request reaches its server")
}

/// The query parameter `name` of `url`, percent-decoded.
fn query_parameter(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let value = query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let bytes = value.as_bytes();
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            decoded.push(u8::from_str_radix(value.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

async fn a_presigned_upload_and_download_carry_the_bytes_with_the_signed_headers(engine: Engine) {
    // GIVEN an empty store, 7 MB of bytes, and a file name an attacker might choose
    let fixture = fresh(engine).await;
    let bytes = pseudo_random_bytes(7 * 1024 * 1024);
    let key = "cases/01ABC/attachments/01DEF";
    let file_name = "résumé \"final\";\r\nX-Evil: 1.pdf";
    let upload = UploadGrant { key: key.into(), content_type: "application/pdf".into(), max_size: bytes.len() as u64 };

    // WHEN an upload is presigned for 15 minutes and the bytes are PUT to it with its headers
    let before = SystemTime::now();
    let request = fixture.store.presign_upload(&upload, Duration::from_secs(900)).await.expect("presign upload");
    let put = send_presigned(&request, Some(bytes.clone())).await;

    // THEN the request is a PUT with the content type and create-only headers, expiring in 15
    // minutes, and the store holds the blob with its signed content type
    assert_eq!(request.method, "PUT");
    assert!(request.headers.contains(&("content-type".into(), "application/pdf".into())), "{:?}", request.headers);
    assert!(request.headers.contains(&("if-none-match".into(), "*".into())), "{:?}", request.headers);
    let validity = request.expires_at.duration_since(before).expect("expires in the future");
    assert!(validity >= Duration::from_secs(899) && validity <= Duration::from_secs(901), "{validity:?}");
    assert!(put.status().is_success(), "upload answered {}: {:?}", put.status(), put.text().await);
    assert_eq!(fixture.store.head(key).await.expect("head"), info(key, "application/pdf", bytes.len()));

    // WHEN a download of it is presigned and fetched
    let download = DownloadGrant { key: key.into(), content_type: "application/pdf".into(), file_name: file_name.into() };
    let request = fixture.store.presign_download(&download, Duration::from_secs(900)).await.expect("presign download");
    let got = send_presigned(&request, None).await;

    // THEN it is a GET answering the very bytes with the signed content type, as a download
    // named after the file (on S3 the disposition is a signed parameter of the URL, which S3
    // answers with; the emulator ignores it, so there the URL is checked)
    assert_eq!(request.method, "GET");
    assert_eq!(got.status(), 200);
    let header = |name: &str| got.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let expected_disposition = docket_ports::attachment_disposition(file_name);
    assert!(!expected_disposition.contains(['\r', '\n']), "{expected_disposition}");
    match engine {
        Engine::Sqlite => assert_eq!(disposition.as_deref(), Some(expected_disposition.as_str())),
        Engine::Dynamo => {
            assert_eq!(query_parameter(&request.url, "response-content-disposition").as_deref(), Some(expected_disposition.as_str()));
            assert_eq!(query_parameter(&request.url, "response-content-type").as_deref(), Some("application/pdf"));
        }
    }
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    let body = got.bytes().await.expect("download body");
    assert!(body.as_ref() == bytes.as_slice(), "downloaded bytes differ");
}

async fn a_presigned_upload_cannot_replace_a_blob(engine: Engine) {
    // GIVEN a blob uploaded through a presigned request
    let fixture = fresh(engine).await;
    let key = "cases/01ABC/attachments/01GHI";
    let grant = UploadGrant { key: key.into(), content_type: "text/plain".into(), max_size: 100 };
    let request = fixture.store.presign_upload(&grant, Duration::from_secs(60)).await.expect("presign");
    assert!(send_presigned(&request, Some(b"checked".to_vec())).await.status().is_success());

    // WHEN the same request is sent again with other bytes
    let again = send_presigned(&request, Some(b"swapped".to_vec())).await;

    // THEN it is refused as a failed precondition and the blob is unchanged
    assert_eq!(again.status(), 412);
    assert_eq!(fixture.store.get(key).await.expect("get").1, b"checked");
}

async fn presigning_refuses_what_put_refuses(engine: Engine) {
    // GIVEN an empty store
    let fixture = fresh(engine).await;
    let valid = Duration::from_secs(60);
    let upload = |key: &str, content_type: &str| UploadGrant { key: key.into(), content_type: content_type.into(), max_size: 1 };
    let download = |key: &str, content_type: &str| DownloadGrant { key: key.into(), content_type: content_type.into(), file_name: "x".into() };

    // WHEN requests are presigned for invalid keys, content types or validities
    // THEN each is refused as invalid
    assert_invalid(fixture.store.presign_upload(&upload("../x", "text/plain"), valid).await, "upload key");
    assert_invalid(fixture.store.presign_upload(&upload("x", "text/plain\r\nX: 1"), valid).await, "upload content type");
    assert_invalid(fixture.store.presign_upload(&upload("x", "text/plain"), Duration::ZERO).await, "no validity");
    assert_invalid(fixture.store.presign_download(&download("a//b", "text/plain"), valid).await, "download key");
    assert_invalid(fixture.store.presign_download(&download("x", ""), valid).await, "download content type");
    assert_invalid(fixture.store.presign_download(&download("x", "text/plain"), Duration::from_secs(8 * 24 * 3600)).await, "eight days");
}

docket_e2e::on_both_engines!(
    head_reports_what_get_would_without_the_bytes,
    a_presigned_upload_and_download_carry_the_bytes_with_the_signed_headers,
    a_presigned_upload_cannot_replace_a_blob,
    presigning_refuses_what_put_refuses,
    round_trip_keeps_bytes_and_content_type,
    put_replaces_the_previous_blob,
    concurrent_puts_leave_one_whole_blob,
    get_of_a_missing_key_is_not_found,
    delete_then_get_is_not_found,
    delete_of_a_missing_key_is_ok,
    invalid_keys_are_refused_and_nothing_is_written,
    invalid_content_types_are_refused_and_nothing_is_written,
    nested_keys_work_beside_blobs_named_like_their_folders,
    the_longest_valid_keys_work,
);
