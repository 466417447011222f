//! Attachments larger than a Lambda payload, on both engines: the client announces a file, PUTs
//! its bytes straight to the blob store with the presigned request the API answered (S3 of the
//! emulator; locally a folder whose signed URLs go to the `/blobs` routes of a server started
//! for the test, as `docket serve` runs them), completes the upload, posts it, and a customer
//! downloads it with a presigned URL. What arrives is checked at completion; who may get a URL
//! is who may download.
//!
//! The emulator neither checks signatures nor honours the `response-*` parameters of a
//! presigned GET, both of which S3 does: on the S3 side the tests check what the URL signs, and
//! write the wrong files a client could send around S3's checks straight into the bucket.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use docket_domain::model::Role;
use docket_e2e::{Engine, TestApi, id_of, on_both_engines};
use docket_ports::{BlobStore, PortError, UploadGrant};
use serde_json::{Value, json};

on_both_engines!(
    an_agent_uploads_eight_megabytes_by_url_and_a_customer_downloads_them,
    completion_refuses_a_file_larger_than_announced_or_of_another_type,
    announcements_are_validated,
    only_the_uploader_completes_an_upload,
    a_portal_user_gets_urls_only_for_attachments_they_may_download,
);

const GET: Method = Method::GET;
const POST: Method = Method::POST;

const EIGHT_MB: usize = 8 * 1024 * 1024;

/// An API with a presigning blob store, an agent, and a public case of a portal customer.
struct World {
    api: TestApi,
    blobs: Arc<dyn BlobStore>,
    /// The blob folder of the local engine (its URLs go to a server of its own).
    folder: Option<Arc<docket_embedded::FileBlobStore>>,
    agent: String,
    customer: String,
    case_path: String,
    case_id: String,
}

async fn world(engine: Engine) -> World {
    let (blobs, folder) = docket_e2e::presigning_blobs(engine).await;
    let api = TestApi::with_docket(docket_e2e::docket(engine).await.with_blobs(blobs.clone())).await;
    let admin = api.admin_token();
    let agent = api.docket.create_user_unchecked("Alex Agent", "alex@docket.test", Role::Agent).await.expect("agent");
    let agent = api.token(&agent.id);
    let (contact, customer) = api.portal_contact("Carla Customer", "carla@customer.example", None, json!({"role": "own_cases"})).await;
    let case = api.create(&admin, "/cases", json!({"subject": "Logs attached", "contact_ids": [id_of(&contact)]})).await;
    let case_id = id_of(&case);
    World { api, blobs, folder, agent, customer, case_path: format!("/cases/{case_id}"), case_id }
}

impl World {
    async fn announce(&self, token: &str, name: &str, content_type: &str, size: usize) -> docket_e2e::Reply {
        let body = json!({"name": name, "content_type": content_type, "size": size});
        self.api.call(POST, &format!("{}/attachments/uploads", self.case_path), Some(token), Some(body)).await
    }

    async fn complete(&self, token: &str, attachment_id: &str) -> docket_e2e::Reply {
        self.api.call(POST, &format!("{}/attachments/uploads/{attachment_id}/complete", self.case_path), Some(token), None).await
    }

    fn blob_key(&self, attachment_id: &str) -> String {
        format!("cases/{}/attachments/{attachment_id}", self.case_id)
    }
}

/// Sends the bytes as the announcement's answer says: its method, URL and headers.
async fn upload_to(ticket: &Value, bytes: Vec<u8>) -> reqwest::Response {
    upload_with(ticket, bytes, &[]).await
}

/// As [`upload_to`], with some of the answer's headers replaced (`""` leaves one out).
async fn upload_with(ticket: &Value, bytes: Vec<u8>, replaced: &[(&str, &str)]) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(ticket["method"].as_str().expect("method").as_bytes()).expect("a method");
    let mut request = reqwest::Client::new().request(method, ticket["upload_url"].as_str().expect("upload_url"));
    for (name, value) in ticket["headers"].as_object().expect("headers") {
        let value = replaced.iter().find(|(n, _)| n == name).map_or(value.as_str().expect("a string"), |(_, v)| v);
        if !value.is_empty() {
            request = request.header(name, value);
        }
    }
    request.body(bytes).send().await.expect("the upload URL answers")
}

/// Bytes that look random, the same on every run.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// The query parameter `name` of `url`, percent-decoded.
fn query_parameter(url: &str, name: &str) -> Option<String> {
    let value = url.split_once('?')?.1.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))?;
    let mut decoded = Vec::new();
    let mut i = 0;
    while i < value.len() {
        if value.as_bytes()[i] == b'%' {
            decoded.push(u8::from_str_radix(value.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(value.as_bytes()[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

async fn an_agent_uploads_eight_megabytes_by_url_and_a_customer_downloads_them(engine: Engine) {
    // GIVEN a public case of a portal customer, and 8 MB with a name no header should carry raw
    let w = world(engine).await;
    let bytes = pseudo_random_bytes(EIGHT_MB);
    let name = "Übersicht \"Q3\"; filename=evil.html.pdf";

    // WHEN the agent announces the file
    let before = time::OffsetDateTime::now_utc();
    let announced = w.announce(&w.agent, name, "application/pdf", EIGHT_MB).await;

    // THEN the answer is a PUT to the store, with the content type and create-only headers to
    // send, valid for 15 minutes, for at most the size announced
    assert_eq!(announced.status, 201, "{}", announced.body);
    let ticket = &announced.body;
    let attachment_id = ticket["attachment_id"].as_str().expect("attachment_id").to_owned();
    assert_eq!(ticket["method"], "PUT");
    assert_eq!(ticket["headers"], json!({"content-type": "application/pdf", "if-none-match": "*"}));
    assert_eq!(ticket["max_size"], EIGHT_MB);
    let expires_at =
        time::OffsetDateTime::parse(ticket["expires_at"].as_str().expect("expires_at"), &time::format_description::well_known::Rfc3339).expect("RFC 3339");
    let validity = expires_at - before;
    assert!(validity > time::Duration::minutes(14) && validity <= time::Duration::minutes(16), "{validity}");
    let url = ticket["upload_url"].as_str().expect("upload_url");
    match engine {
        Engine::Sqlite => assert!(url.contains("/blobs/upload/"), "{url}"),
        Engine::Dynamo => assert!(url.contains(&w.blob_key(&attachment_id)) && url.contains("X-Amz-Signature="), "{url}"),
    }

    // WHEN the bytes are PUT there (not through the API) and the upload is completed
    let put = upload_to(ticket, bytes.clone()).await;
    assert!(put.status().is_success(), "upload answered {}: {:?}", put.status(), put.text().await);
    let completed = w.complete(&w.agent, &attachment_id).await;

    // THEN it is the agent's attachment, as a direct upload would be, and completing again
    // answers the same
    assert_eq!(completed.status, 201, "{}", completed.body);
    assert_eq!(completed.body, json!({"id": attachment_id, "name": name, "content_type": "application/pdf", "size": EIGHT_MB}));
    let again = w.complete(&w.agent, &attachment_id).await;
    assert_eq!((again.status.as_u16(), &again.body), (200, &completed.body));

    // AND the customer cannot download it before it is posted (an unposted upload of the agent's)
    let url_path = format!("{}/attachments/{attachment_id}/url", w.case_path);
    w.api.call(GET, &url_path, Some(&w.customer), None).await.assert_problem(404, None);

    // WHEN the agent posts it publicly and the customer asks for a download URL and fetches it
    let post = w
        .api
        .call(POST, &format!("{}/stream", w.case_path), Some(&w.agent), Some(json!({"body": "Here are the logs", "attachment_ids": [attachment_id]})))
        .await;
    assert_eq!(post.status, 201, "{}", post.body);
    let link = w.api.call(GET, &url_path, Some(&w.customer), None).await;
    assert_eq!(link.status, 200, "{}", link.body);
    assert_eq!(link.body["method"], "GET");
    let download_url = link.body["url"].as_str().expect("url");
    let downloaded = reqwest::get(download_url).await.expect("the download URL answers");

    // THEN the customer gets the very bytes, with the fixed content type, as a download named
    // after the file in RFC 5987 form (S3 answers with the disposition its URL signs; the
    // emulator ignores it, so there the signed parameters are checked)
    assert_eq!(downloaded.status(), 200);
    let disposition = docket_ports::attachment_disposition(name);
    assert!(
        disposition.starts_with("attachment; ") && disposition.contains("filename*=UTF-8''%C3%9Cbersicht%20%22Q3%22%3B%20filename%3Devil.html.pdf"),
        "{disposition}"
    );
    assert_eq!(header(&downloaded, "content-type").as_deref(), Some("application/pdf"));
    match engine {
        Engine::Sqlite => {
            assert_eq!(header(&downloaded, "content-disposition").as_deref(), Some(disposition.as_str()));
            assert_eq!(header(&downloaded, "x-content-type-options").as_deref(), Some("nosniff"));
        }
        Engine::Dynamo => {
            assert_eq!(query_parameter(download_url, "response-content-disposition").as_deref(), Some(disposition.as_str()));
            assert_eq!(query_parameter(download_url, "response-content-type").as_deref(), Some("application/pdf"));
        }
    }
    let body = downloaded.bytes().await.expect("body");
    assert!(body.len() == EIGHT_MB && body.as_ref() == bytes.as_slice(), "the downloaded bytes differ");

    // AND the API's own download, which cannot carry 8 MB through a Lambda response, sends
    // the customer to a download URL of the same file instead
    let direct = w.api.send(GET, &format!("{}/attachments/{attachment_id}", w.case_path), Some(&w.customer), &[], None).await;
    assert_eq!(direct.status, 303);
    let location = direct.headers.get("location").and_then(|v| v.to_str().ok()).expect("a Location").to_owned();
    let redirected = reqwest::get(&location).await.expect("the Location answers");
    assert_eq!(redirected.status(), 200);
    assert!(redirected.bytes().await.expect("body").as_ref() == bytes.as_slice(), "the redirected bytes differ");
}

async fn completion_refuses_a_file_larger_than_announced_or_of_another_type(engine: Engine) {
    // GIVEN an agent's announced upload of 1,000 bytes of text
    let w = world(engine).await;
    let announced = w.announce(&w.agent, "notes.txt", "text/plain", 1000).await;
    assert_eq!(announced.status, 201, "{}", announced.body);
    let ticket = announced.body;
    let id = ticket["attachment_id"].as_str().expect("id").to_owned();
    let key = w.blob_key(&id);

    // WHEN it is completed before anything was uploaded THEN there is nothing to complete yet
    w.complete(&w.agent, &id).await.assert_problem(409, Some("upload"));

    // WHEN 2,000 bytes are sent: the local server stops them at the URL, S3 cannot (its
    // presigned PUT signs no size), so there they land, as they are made to land locally
    let oversized = upload_to(&ticket, vec![b'x'; 2000]).await;
    match engine {
        Engine::Sqlite => {
            assert_eq!(oversized.status(), 413);
            w.blobs.put(&key, "text/plain", vec![b'x'; 2000]).await.expect("put around the URL");
        }
        Engine::Dynamo => assert!(oversized.status().is_success(), "{}", oversized.status()),
    }
    // THEN completion refuses the file on its size and deletes it
    w.complete(&w.agent, &id).await.assert_problem(422, Some("size"));
    assert!(matches!(w.blobs.head(&key).await, Err(PortError::NotFound(_))), "the refused file is deleted");

    // WHEN an HTML file is sent instead (a content type the URL was not signed for: the local
    // server refuses it at the URL, S3 would too, the emulator does not check, so it lands)
    let html = upload_with(&ticket, b"<script>alert(1)</script>".to_vec(), &[("content-type", "text/html")]).await;
    match engine {
        Engine::Sqlite => {
            assert_eq!(html.status(), 403);
            w.blobs.put(&key, "text/html", b"<script>alert(1)</script>".to_vec()).await.expect("put around the URL");
        }
        Engine::Dynamo => assert!(html.status().is_success(), "{}", html.status()),
    }
    // THEN completion refuses it on its content type and deletes it
    w.complete(&w.agent, &id).await.assert_problem(422, Some("content_type"));
    assert!(matches!(w.blobs.head(&key).await, Err(PortError::NotFound(_))), "the refused file is deleted");

    // WHEN the right file (smaller than announced) is then sent with the same URL and completed
    let right = upload_to(&ticket, b"the real notes".to_vec()).await;
    assert!(right.status().is_success(), "{}", right.status());
    let completed = w.complete(&w.agent, &id).await;

    // THEN it is accepted with its real size, and the URL cannot replace it any more
    assert_eq!(completed.status, 201, "{}", completed.body);
    assert_eq!(completed.body["size"], 14);
    assert_eq!(upload_to(&ticket, b"swapped after the check".to_vec()).await.status(), 412);
    assert_eq!(w.blobs.get(&key).await.expect("get").1, b"the real notes");
}

async fn announcements_are_validated(engine: Engine) {
    // GIVEN a case
    let w = world(engine).await;
    let too_big = 100 * 1024 * 1024 + 1;

    // WHEN uploads are announced with a bad size, content type or name, or unknown fields
    // THEN each is refused naming the field, and nothing is written to the store
    w.announce(&w.agent, "a.bin", "application/octet-stream", 0).await.assert_problem(422, Some("size"));
    w.announce(&w.agent, "a.bin", "application/octet-stream", too_big).await.assert_problem(422, Some("size"));
    w.announce(&w.agent, "a.bin", "text/plain\r\nX-Injected: 1", 10).await.assert_problem(422, Some("content_type"));
    w.announce(&w.agent, "a.bin", "", 10).await.assert_problem(422, Some("content_type"));
    w.announce(&w.agent, "../../etc/passwd", "text/plain", 10).await.assert_problem(422, Some("name"));
    w.announce(&w.agent, "two\nlines.txt", "text/plain", 10).await.assert_problem(422, Some("name"));
    w.announce(&w.agent, &"n".repeat(201), "text/plain", 10).await.assert_problem(422, Some("name"));
    let extra = json!({"name": "a.txt", "content_type": "text/plain", "size": 10, "key": "cases/other/attachments/x"});
    w.api.call(POST, &format!("{}/attachments/uploads", w.case_path), Some(&w.agent), Some(extra)).await.assert_problem(422, Some("key"));
    // (the largest allowed size is accepted)
    assert_eq!(w.announce(&w.agent, "big.iso", "application/octet-stream", too_big - 1).await.status, 201);

    // AND a case the caller may not see is 404, as for a direct upload
    let (_, stranger) = w.api.portal_contact("Sam Stranger", "sam@elsewhere.example", None, json!({"role": "own_cases"})).await;
    w.announce(&stranger, "a.txt", "text/plain", 10).await.assert_problem(404, None);
}

async fn only_the_uploader_completes_an_upload(engine: Engine) {
    // GIVEN the customer's upload, sent but not completed, and another agent
    let w = world(engine).await;
    let other = w.api.docket.create_user_unchecked("Olga Other", "olga@docket.test", Role::Agent).await.expect("agent");
    let other = w.api.token(&other.id);
    let ticket = w.announce(&w.customer, "screenshot.png", "image/png", 4).await.body;
    let id = ticket["attachment_id"].as_str().expect("id").to_owned();
    assert!(upload_to(&ticket, b"\x89PNG".to_vec()).await.status().is_success());

    // WHEN the agents complete it, or ask for an id that is no upload
    // THEN it is not found for them
    w.complete(&w.agent, &id).await.assert_problem(404, None);
    w.complete(&other, &id).await.assert_problem(404, None);
    w.complete(&w.customer, "01NOSUCHUPLOAD").await.assert_problem(404, None);
    w.complete(&w.customer, "../x").await.assert_problem(404, None);

    // WHEN the customer completes it THEN it is theirs, and still not the others' to complete
    let completed = w.complete(&w.customer, &id).await;
    assert_eq!(completed.status, 201, "{}", completed.body);
    w.complete(&w.agent, &id).await.assert_problem(404, None);

    // AND only the customer may post it
    let by_agent = w.api.call(POST, &format!("{}/stream", w.case_path), Some(&w.agent), Some(json!({"attachment_ids": [id]}))).await;
    by_agent.assert_problem(422, Some("attachment_ids"));
    let by_customer =
        w.api.call(POST, &format!("{}/stream", w.case_path), Some(&w.customer), Some(json!({"body": "see screenshot", "attachment_ids": [id]}))).await;
    assert_eq!(by_customer.status, 201, "{}", by_customer.body);
}

async fn a_portal_user_gets_urls_only_for_attachments_they_may_download(engine: Engine) {
    // GIVEN an agent's internal and public posts with one file each, an unposted file of the
    // agent's, and another customer
    let w = world(engine).await;
    let direct = |name: &str| format!("{}/attachments?name={name}", w.case_path);
    let mut ids = Vec::new();
    for name in ["internal.txt", "public.txt", "unposted.txt"] {
        let uploaded = w.api.send(POST, &direct(name), Some(&w.agent), &[("content-type", "text/plain")], Some(format!("contents of {name}"))).await;
        assert_eq!(uploaded.status, 201, "{}", uploaded.body);
        ids.push(id_of(&uploaded.body));
    }
    let stream = format!("{}/stream", w.case_path);
    let internal = w.api.call(POST, &stream, Some(&w.agent), Some(json!({"body": "internal", "internal": true, "attachment_ids": [ids[0]]}))).await;
    let public = w.api.call(POST, &stream, Some(&w.agent), Some(json!({"body": "public", "attachment_ids": [ids[1]]}))).await;
    assert_eq!((internal.status.as_u16(), public.status.as_u16()), (201, 201), "{} {}", internal.body, public.body);
    let (_, stranger) = w.api.portal_contact("Sam Stranger", "sam@elsewhere.example", None, json!({"role": "own_cases"})).await;
    let url = |id: &str| format!("{}/attachments/{id}/url", w.case_path);

    // WHEN the customer asks for URLs
    // THEN the internal and the unposted file are not found, the public one is served
    w.api.call(GET, &url(&ids[0]), Some(&w.customer), None).await.assert_problem(404, None);
    w.api.call(GET, &url(&ids[2]), Some(&w.customer), None).await.assert_problem(404, None);
    let public_url = w.api.call(GET, &url(&ids[1]), Some(&w.customer), None).await;
    assert_eq!(public_url.status, 200, "{}", public_url.body);
    let fetched = reqwest::get(public_url.body["url"].as_str().expect("url")).await.expect("download");
    assert_eq!(fetched.text().await.expect("text"), "contents of public.txt");

    // AND another customer, an unknown id and no token get nothing
    w.api.call(GET, &url(&ids[1]), Some(&stranger), None).await.assert_problem(404, None);
    w.api.call(GET, &url("01NOSUCHATTACHMENT"), Some(&w.customer), None).await.assert_problem(404, None);
    w.api.call(GET, &url(&ids[1]), None, None).await.assert_problem(401, None);

    // AND the agent gets a URL for every one of them
    for id in &ids {
        assert_eq!(w.api.call(GET, &url(id), Some(&w.agent), None).await.status, 200, "{id}");
    }
}

/// The local server's signed URLs (only the folder adapter signs its own; S3 checks its own
/// signatures): altered, expired, misdirected or header-less requests are refused with 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_or_tampered_local_urls_are_refused() {
    // GIVEN an announced upload on the local engine
    let w = world(Engine::Sqlite).await;
    let folder = w.folder.clone().expect("the local engine's folder");
    let ticket = w.announce(&w.agent, "report.pdf", "application/pdf", 10).await.body;
    let url = ticket["upload_url"].as_str().expect("upload_url").to_owned();
    let (base, token) = url.rsplit_once('/').expect("a token");
    let (payload, signature) = token.split_once('.').expect("payload and signature");
    let with_url = |url: String| {
        let mut ticket = ticket.clone();
        ticket["upload_url"] = Value::String(url);
        ticket
    };

    // WHEN the URL's signature or grant is altered, or it is used for downloading
    let mut flipped = signature.to_owned().into_bytes();
    flipped[3] = if flipped[3] == b'x' { b'y' } else { b'x' };
    let flipped = String::from_utf8(flipped).expect("ASCII");
    let forged_payload = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = String::from_utf8(engine.decode(payload).expect("base64")).expect("JSON");
        engine.encode(json.replace("\"max_size\":10", "\"max_size\":10000000"))
    };
    let refused = [
        ("a flipped signature", upload_to(&with_url(format!("{base}/{payload}.{flipped}")), b"0123456789".to_vec()).await),
        ("a raised size", upload_to(&with_url(format!("{base}/{forged_payload}.{signature}")), b"0123456789".to_vec()).await),
        ("no signature", upload_to(&with_url(format!("{base}/{payload}")), b"0123456789".to_vec()).await),
        ("another content type", upload_with(&ticket, b"0123456789".to_vec(), &[("content-type", "text/html")]).await),
        ("no content type", upload_with(&ticket, b"0123456789".to_vec(), &[("content-type", "")]).await),
        ("no If-None-Match", upload_with(&ticket, b"0123456789".to_vec(), &[("if-none-match", "")]).await),
    ];
    // THEN each is refused with 403 and nothing is stored
    for (what, response) in refused {
        assert_eq!(response.status(), 403, "{what}");
    }
    let download_with_upload_token = reqwest::get(url.replace("/blobs/upload/", "/blobs/download/")).await.expect("answer");
    assert_eq!(download_with_upload_token.status(), 403);
    let key = w.blob_key(ticket["attachment_id"].as_str().expect("id"));
    assert!(matches!(w.blobs.head(&key).await, Err(PortError::NotFound(_))));

    // WHEN requests are presigned for a second and used after it
    let grant = UploadGrant { key: key.clone(), content_type: "application/pdf".into(), max_size: 10 };
    let short_upload = folder.presign_upload(&grant, Duration::from_secs(1)).await.expect("presign");
    folder.put(&key, "application/pdf", b"0123456789".to_vec()).await.expect("put");
    let download = docket_ports::DownloadGrant { key: key.clone(), content_type: "application/pdf".into(), file_name: "report.pdf".into() };
    let short_download = folder.presign_download(&download, Duration::from_secs(1)).await.expect("presign");
    assert_eq!(reqwest::get(&short_download.url).await.expect("answer").status(), 200, "valid at first");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    folder.delete(&key).await.expect("delete");

    // THEN both are refused with 403
    let expired_upload = reqwest::Client::new()
        .put(&short_upload.url)
        .header("content-type", "application/pdf")
        .header("if-none-match", "*")
        .body(b"0123456789".to_vec())
        .send()
        .await
        .expect("answer");
    assert_eq!(expired_upload.status(), 403);
    assert_eq!(reqwest::get(&short_download.url).await.expect("answer").status(), 403);
    let problem: Value = reqwest::get(&short_download.url).await.expect("answer").json().await.expect("a problem document");
    assert!(problem["detail"].as_str().is_some_and(|d| d.contains("expired")), "{problem}");

    // AND a download URL whose file name was altered is refused too
    let link = folder.presign_download(&download, Duration::from_secs(60)).await.expect("presign");
    let (base, token) = link.url.rsplit_once('/').expect("a token");
    let (payload, signature) = token.split_once('.').expect("two parts");
    let renamed = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let json = String::from_utf8(engine.decode(payload).expect("base64")).expect("JSON");
        engine.encode(json.replace("report.pdf", "report.html"))
    };
    assert_eq!(reqwest::get(format!("{base}/{renamed}.{signature}")).await.expect("answer").status(), 403);
}

/// Found probing the local server beside the API fuzzing: the signed-URL routes, merged into the
/// router after the API's 405 answer was set, answered a wrong method with an empty 405 and an
/// undecodable token with axum's `400 text/plain`. Both are problem documents now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_url_routes_answer_bad_requests_with_problems() {
    // GIVEN an announced upload on the local engine
    let w = world(Engine::Sqlite).await;
    let ticket = w.announce(&w.agent, "report.pdf", "application/pdf", 10).await.body;
    let upload_url = ticket["upload_url"].as_str().expect("upload_url").to_owned();
    let download_path = upload_url.replace("/blobs/upload/", "/blobs/download/");
    let origin = upload_url.split("/blobs/").next().expect("origin").to_owned();
    let client = reqwest::Client::new();
    // WHEN the upload URL is read, the download URL written, and a token does not decode to text
    let answers = [
        ("GET on an upload URL", client.get(&upload_url).send().await.expect("answer"), 405, "PUT"),
        ("PUT on a download URL", client.put(&download_path).body("x").send().await.expect("answer"), 405, "GET,HEAD"),
        ("a token that is not UTF-8", client.get(format!("{origin}/blobs/download/%FF")).send().await.expect("answer"), 404, ""),
    ];
    // THEN each is a problem document, a 405 with the methods the URL takes
    for (what, response, status, allow) in answers {
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(header(&response, "content-type").as_deref(), Some("application/problem+json"), "{what}");
        if !allow.is_empty() {
            assert_eq!(header(&response, "allow").as_deref(), Some(allow), "{what}");
        }
        let problem: Value = response.json().await.expect("a problem document");
        assert_eq!(problem["status"], status, "{what}: {problem}");
    }
}
