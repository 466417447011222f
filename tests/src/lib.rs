//! Test support shared by the end-to-end suites: both storage engines behind one switch, and an
//! in-process API client.
//!
//! DynamoDB tests run against the emulator named by `DOCKET_TEST_AWS_ENDPOINT` (the test command
//! starts moto_server and sets it). Without it they fail: a skipped engine must never pass.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use docket_api::{AppState, Authenticator, TokenKeys, router};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::model::{Role, User};
use docket_store::{ItemStore, TableSpec};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Dynamo,
}

/// The emulator endpoint; panics with instructions when the test command did not provide one.
pub fn aws_endpoint() -> String {
    std::env::var("DOCKET_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("DOCKET_TEST_AWS_ENDPOINT is not set: run scripts/test.sh, which starts moto_server and sets it"))
}

/// A fresh, empty store of the given engine holding `tables`.
pub async fn store_with(engine: Engine, tables: Vec<TableSpec>) -> Arc<dyn ItemStore> {
    match engine {
        Engine::Sqlite => Arc::new(docket_embedded::SqliteItemStore::in_memory(tables).expect("open in-memory SQLite")),
        Engine::Dynamo => {
            let sdk = docket_aws::config::emulator_sdk_config(&aws_endpoint()).await;
            // Tests share one emulator and run in parallel: every store gets tables of its own.
            let prefix = format!("t{}-", ulid::Ulid::new().to_string().to_lowercase());
            let store = docket_aws::DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), prefix, tables);
            store.create_tables().await.expect("create tables on the emulator");
            Arc::new(store)
        }
    }
}

/// A fresh store with Docket's own tables.
pub async fn store(engine: Engine) -> Arc<dyn ItemStore> {
    store_with(engine, docket_domain::schema::tables()).await
}

pub async fn docket(engine: Engine) -> Docket {
    docket_with_clock(engine, Arc::new(SystemClock)).await
}

/// A fresh application whose time is `clock` (a `ManualClock` for tests of time windows).
pub async fn docket_with_clock(engine: Engine, clock: Arc<dyn docket_domain::clock::Clock>) -> Docket {
    Docket::new(store(engine).await, clock)
}

/// The `id` of a record in a reply body.
pub fn id_of(record: &Value) -> String {
    record["id"].as_str().unwrap_or_else(|| panic!("no id in {record}")).to_owned()
}

/// The API router on a fresh store, with an admin and a way to mint tokens.
pub struct TestApi {
    pub app: Router,
    pub docket: Docket,
    pub keys: TokenKeys,
    pub admin: User,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn etag(&self) -> String {
        self.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
    pub fn content_type(&self) -> String {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
    /// Asserts the reply is a problem document of `status` naming `field` (when given).
    pub fn assert_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "unexpected status, body: {}", self.body);
        assert_eq!(self.content_type(), "application/problem+json", "body: {}", self.body);
        assert_eq!(self.body["status"], status, "body: {}", self.body);
        assert!(self.body["type"].as_str().is_some_and(|t| t.starts_with("urn:docket:problem:")), "body: {}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()), "body: {}", self.body);
        if let Some(field) = field {
            assert_eq!(self.body["field"], field, "body: {}", self.body);
        }
    }
}

impl TestApi {
    pub async fn new(engine: Engine) -> Self {
        Self::with_docket(docket(engine).await).await
    }

    /// The API over a given application (for tests that add queues, blobs, …).
    pub async fn with_docket(docket: Docket) -> Self {
        let keys = TokenKeys::new(b"test-secret-test-secret-test-secret");
        let admin = docket.create_user_unchecked("Test Admin", "admin@test.example", Role::Admin).await.expect("admin");
        let app = router(AppState { docket: docket.clone(), authenticator: Authenticator::LocalTokens(keys.clone()) });
        TestApi { app, docket, keys, admin }
    }

    pub fn token(&self, principal_id: &str) -> String {
        self.keys.mint(principal_id, Duration::from_secs(600)).expect("mint token")
    }

    pub fn admin_token(&self) -> String {
        self.token(&self.admin.id)
    }

    /// Creates a record with a POST that must answer 201; returns the body.
    pub async fn create(&self, token: &str, path: &str, body: Value) -> Value {
        let reply = self.call(Method::POST, path, Some(token), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "creating at {path}: {}", reply.body);
        reply.body
    }

    /// A contact granted portal access by the admin, and a token for it. `portal` is the grant,
    /// e.g. `{"role": "own_cases"}`.
    pub async fn portal_contact(&self, name: &str, email: &str, account_id: Option<&str>, portal: Value) -> (Value, String) {
        let body = serde_json::json!({"name": name, "emails": [email], "account_id": account_id, "portal": portal});
        let contact = self.create(&self.admin_token(), "/contacts", body).await;
        let token = self.token(&id_of(&contact));
        (contact, token)
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.send(method, path, token, &[], body.map(|b| b.to_string())).await
    }

    /// Sends a raw request with extra headers; a body is sent as `application/json`.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Option<String>) -> Reply {
        self.send_request(Self::request(method, path, token, headers, body)).await
    }

    /// Sends a raw request as [`TestApi::send`] does, arriving from the TCP peer `peer` (as
    /// `docket serve` passes it to the router).
    pub async fn send_from(&self, peer: std::net::SocketAddr, method: Method, path: &str, headers: &[(&str, &str)], body: Option<String>) -> Reply {
        let mut request = Self::request(method, path, None, headers, body);
        request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
        self.send_request(request).await
    }

    fn request(method: Method, path: &str, token: Option<&str>, headers: &[(&str, &str)], body: Option<String>) -> Request<Body> {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() && !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-type")) {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body.map(Body::from).unwrap_or_else(Body::empty)).expect("request")
    }

    /// Sends a request through the router and reads the reply.
    pub async fn send_request(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.expect("router is infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let body =
            if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned())) };
        Reply { status, headers, body }
    }
}

/// Declares each listed `async fn name(engine: Engine)` as a test on SQLite and on DynamoDB, in
/// modules `sqlite` and `dynamo`, so the output shows every assertion on both engines.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Engine::Sqlite).await
                }
            )*
        }
        mod dynamo {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::Engine::Dynamo).await
                }
            )*
        }
    };
}

/// The address test notifications come from (verified on the emulator's SES).
pub const TEST_MAIL_FROM: &str = "support@docket.test";

/// Where a test's sent mail can be read back.
pub enum SentMail {
    /// The local outbox folder of `.eml` files.
    Outbox(std::path::PathBuf),
    /// The emulator's SES: every raw message it accepted (global to the server).
    Ses(String),
}

impl SentMail {
    /// Every raw message sent so far (for SES: by every test on the server; filter by content).
    pub async fn raw_messages(&self) -> Vec<Vec<u8>> {
        match self {
            SentMail::Outbox(dir) => {
                let mut files: Vec<_> = std::fs::read_dir(dir)
                    .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
                    .unwrap_or_default();
                files.sort();
                files.iter().map(|p| std::fs::read(p).expect("read outbox file")).collect()
            }
            SentMail::Ses(endpoint) => {
                // scripts/moto_serial.py answers with SES's raw messages alone; a plain
                // moto_server only with its dump of every model (slow, and slower each test).
                let quick = reqwest::get(format!("{endpoint}/docket-test/ses-raw-messages")).await.expect("emulator");
                if quick.status().is_success() {
                    let messages: Vec<Value> = quick.json().await.expect("a JSON list of raw messages");
                    return messages.iter().filter_map(|m| m["raw_data"].as_str()).map(|raw| raw.as_bytes().to_vec()).collect();
                }
                let data: Value = reqwest::get(format!("{endpoint}/moto-api/data.json")).await.expect("emulator data").json().await.expect("json");
                data["ses"]["RawMessage"]
                    .as_array()
                    .map(|messages| messages.iter().filter_map(|m| m["raw_data"].as_str()).map(|raw| raw.as_bytes().to_vec()).collect())
                    .unwrap_or_default()
            }
        }
    }

    /// Raw messages that mention `marker` (a case id, a message id) anywhere.
    pub async fn messages_with(&self, marker: &str) -> Vec<String> {
        self.raw_messages().await.into_iter().map(|raw| String::from_utf8_lossy(&raw).into_owned()).filter(|raw| raw.contains(marker)).collect()
    }
}

/// A mailer that sends through another and keeps a copy of every message that other accepted,
/// so a test reads what was sent without asking the emulator for all of its data.
pub struct RecordingMailer {
    inner: Arc<dyn docket_ports::Mailer>,
    sent: std::sync::Mutex<Vec<String>>,
}

impl RecordingMailer {
    pub fn new(inner: Arc<dyn docket_ports::Mailer>) -> Self {
        RecordingMailer { inner, sent: std::sync::Mutex::new(Vec::new()) }
    }

    /// Raw messages sent so far that mention `marker` anywhere.
    pub fn messages_with(&self, marker: &str) -> Vec<String> {
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().filter(|raw| raw.contains(marker)).cloned().collect()
    }
}

#[async_trait::async_trait]
impl docket_ports::Mailer for RecordingMailer {
    async fn send(&self, mail: docket_ports::OutboundMail) -> Result<String, docket_ports::PortError> {
        let raw = String::from_utf8_lossy(&mail.raw).into_owned();
        let id = self.inner.send(mail).await?;
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(raw);
        Ok(id)
    }
}

/// A real mailer of the engine's kind, recording what it sent.
pub async fn recording_mailer(engine: Engine) -> Arc<RecordingMailer> {
    let (inner, _) = mailer(engine).await;
    Arc::new(RecordingMailer::new(inner))
}

/// The mail settings of the tests: from the address verified on the emulator's SES.
pub fn test_mail_settings() -> docket_domain::notify::MailSettings {
    docket_domain::notify::MailSettings {
        from: docket_mail::compose::Address { name: Some("Acme Support".into()), email: TEST_MAIL_FROM.into() },
        reply_to: TEST_MAIL_FROM.into(),
        message_id_domain: "docket.test".into(),
        provider_message_id_domain: None,
        public_url: None,
    }
}

/// A message delivered to `to` as the local SMTP port hands it over: a fresh delivery, not from
/// SES, its sender unvouched for.
pub fn plain_delivery(to: &str, raw: String) -> docket_domain::inbound::InboundMail {
    docket_domain::inbound::InboundMail {
        source_id: format!("test:{}", ulid::Ulid::new()),
        envelope_to: vec![to.to_owned()],
        raw: raw.into_bytes(),
        received_by_ses: false,
        trusted_sender: false,
    }
}

/// A plain-text message as a mail client sends it.
pub fn raw_message(from: &str, to: &str, subject: &str, message_id: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n{extra_headers}\r\n{body}\r\n"
    )
}

/// A header's value in a raw message, with folded lines joined.
pub fn header(raw: &str, name: &str) -> Option<String> {
    let unfolded = raw.replace("\r\n ", " ").replace("\r\n\t", " ").replace("\n ", " ");
    unfolded.lines().find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')).map(|v| v.trim().to_owned()))
}

/// A real mailer of the engine's kind: the outbox folder, or SES on the emulator.
pub async fn mailer(engine: Engine) -> (Arc<dyn docket_ports::Mailer>, SentMail) {
    match engine {
        Engine::Sqlite => {
            let dir = std::env::temp_dir().join(format!("docket-outbox-{}", ulid::Ulid::new()));
            let mailer = docket_embedded::OutboxMailer::new(dir.clone()).expect("outbox");
            (Arc::new(mailer), SentMail::Outbox(dir))
        }
        Engine::Dynamo => {
            let endpoint = aws_endpoint();
            let sdk = docket_aws::config::emulator_sdk_config(&endpoint).await;
            let ses = docket_aws::config::ses_client(&sdk);
            ses.verify_email_identity().email_address(TEST_MAIL_FROM).send().await.expect("verify sender on the emulator");
            (Arc::new(docket_aws::SesMailer::new(ses)), SentMail::Ses(endpoint))
        }
    }
}

/// A fresh queue of the engine's kind (SQLite table, or SQS with a dead-letter queue).
pub async fn queue(engine: Engine, max_receives: u32) -> Arc<dyn docket_ports::Queue> {
    let name = format!("q{}", ulid::Ulid::new().to_string().to_lowercase());
    match engine {
        Engine::Sqlite => Arc::new(docket_embedded::SqliteQueue::in_memory(&name, max_receives).expect("queue")),
        Engine::Dynamo => {
            let sdk = docket_aws::config::emulator_sdk_config(&aws_endpoint()).await;
            Arc::new(docket_aws::SqsQueue::create_with_dead_letter(docket_aws::config::sqs_client(&sdk), &name, max_receives).await.expect("queue"))
        }
    }
}

/// A fresh blob store of the engine's kind (a temporary folder, or an S3 bucket).
pub async fn blobs(engine: Engine) -> Arc<dyn docket_ports::BlobStore> {
    match engine {
        Engine::Sqlite => {
            let dir = std::env::temp_dir().join(format!("docket-blobs-{}", ulid::Ulid::new()));
            Arc::new(docket_embedded::FileBlobStore::new(dir).expect("blob folder"))
        }
        Engine::Dynamo => {
            let sdk = docket_aws::config::emulator_sdk_config(&aws_endpoint()).await;
            let bucket = format!("b{}", ulid::Ulid::new().to_string().to_lowercase());
            let store = docket_aws::S3BlobStore::new(docket_aws::config::s3_client(&sdk), bucket, String::new());
            store.create_bucket().await.expect("bucket");
            Arc::new(store)
        }
    }
}

/// The secret the test blob folders sign their URLs with.
pub const TEST_URL_SECRET: &[u8] = b"test-url-secret-test-url-secret";

/// A blob folder at `root` whose presigned URLs point at a server of its own on 127.0.0.1
/// (a free port), serving the signed-URL routes as `docket serve` does, until the test's runtime
/// ends.
pub async fn serve_blob_folder(root: std::path::PathBuf) -> Arc<docket_embedded::FileBlobStore> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a port for the blob routes");
    let address = listener.local_addr().expect("local address");
    let store = docket_embedded::FileBlobStore::new(root)
        .and_then(|store| store.with_signed_urls(&format!("http://{address}"), TEST_URL_SECRET))
        .expect("blob folder with signed URLs");
    let store = Arc::new(store);
    let routes = docket_api::signed_blob_router(store.clone());
    tokio::spawn(async move { axum::serve(listener, routes).await });
    store
}

/// A fresh blob store of the engine's kind that presigns requests: a folder served by
/// [`serve_blob_folder`] (also returned, for what only a folder can be asked), or an S3 bucket
/// of the emulator, whose URLs go to the emulator.
pub async fn presigning_blobs(engine: Engine) -> (Arc<dyn docket_ports::BlobStore>, Option<Arc<docket_embedded::FileBlobStore>>) {
    match engine {
        Engine::Sqlite => {
            let folder = serve_blob_folder(std::env::temp_dir().join(format!("docket-blobs-{}", ulid::Ulid::new()))).await;
            (folder.clone(), Some(folder))
        }
        Engine::Dynamo => (blobs(engine).await, None),
    }
}

/// A fresh assign queue of the engine's kind: an SQLite table, or an SQS FIFO queue (grouped by
/// case, as on AWS) with its dead-letter queue.
pub async fn assign_queue(engine: Engine, max_receives: u32) -> Arc<dyn docket_ports::Queue> {
    match engine {
        Engine::Sqlite => queue(engine, max_receives).await,
        Engine::Dynamo => {
            let name = format!("q{}", ulid::Ulid::new().to_string().to_lowercase());
            let sdk = docket_aws::config::emulator_sdk_config(&aws_endpoint()).await;
            let sqs = docket_aws::config::sqs_client(&sdk);
            Arc::new(docket_aws::SqsQueue::create_fifo_with_dead_letter(sqs, &name, max_receives).await.expect("FIFO queue"))
        }
    }
}

/// An application whose changes are announced on a notify queue and an assign queue of the
/// engine's kind, with the assign function's handler to work the assign queue.
pub struct Automated {
    pub docket: Docket,
    pub notify: Arc<dyn docket_ports::Queue>,
    pub assign: Arc<dyn docket_ports::Queue>,
    pub handler: Arc<docket_assign::AssignHandler>,
}

impl Automated {
    pub async fn new(engine: Engine) -> Self {
        Self::with_docket(engine, docket(engine).await).await
    }

    /// On a docket of its own (a manual clock, say), given its queues here.
    pub async fn with_docket(engine: Engine, docket: Docket) -> Self {
        let (notify, assign) = (queue(engine, 5).await, assign_queue(engine, 5).await);
        let docket = docket.with_notify_queue(notify.clone()).with_assign_queue(assign.clone());
        let handler = Arc::new(docket_assign::AssignHandler { docket: docket.clone() });
        Automated { docket, notify, assign, handler }
    }

    /// Works the assign queue until it is empty, as the assign function would (changes made by
    /// rules queue further events, which are worked too); every message must succeed. Returns
    /// how many were worked.
    pub async fn work_assign_queue(&self) -> usize {
        work_queue(self.assign.as_ref(), &self.handler).await
    }

    /// The notify-queue messages waiting, removed from the queue.
    pub async fn take_notifications(&self) -> Vec<Value> {
        let mut bodies = Vec::new();
        loop {
            let deliveries = self.notify.receive(10, Duration::from_secs(60)).await.expect("receive notifications");
            if deliveries.is_empty() {
                return bodies;
            }
            for delivery in deliveries {
                bodies.push(serde_json::from_str(&delivery.body).expect("a JSON notify message"));
                self.notify.ack(&delivery.receipt).await.expect("ack");
            }
        }
    }
}

/// An automated application, the API over it, and an admin token for it.
pub async fn automated_api(engine: Engine) -> (Automated, TestApi, String) {
    let auto = Automated::new(engine).await;
    let api = TestApi::with_docket(auto.docket.clone()).await;
    let admin = api.admin_token();
    (auto, api, admin)
}

/// Works `queue` with the notify handler, as the notify function would, until a receive finds it
/// empty; panics on a failure. Returns how many messages were worked.
pub async fn work_notify_queue(queue: &dyn docket_ports::Queue, handler: &docket_notify::NotifyHandler) -> usize {
    let mut worked = 0;
    loop {
        let deliveries = queue.receive(10, Duration::from_secs(30)).await.expect("receive notifications");
        if deliveries.is_empty() {
            return worked;
        }
        for d in deliveries {
            assert_eq!(handler.handle_message(&d.message_id, &d.body).await, docket_notify::Outcome::Done, "{}", d.body);
            queue.ack(&d.receipt).await.expect("ack a notification");
            worked += 1;
        }
    }
}

/// Works `queue` with the assign handler until a receive finds it empty; panics on a failure.
pub async fn work_queue(queue: &dyn docket_ports::Queue, handler: &docket_assign::AssignHandler) -> usize {
    let mut worked = 0;
    loop {
        let deliveries = queue.receive(10, Duration::from_secs(60)).await.expect("receive case events");
        if deliveries.is_empty() {
            return worked;
        }
        for delivery in deliveries {
            let outcome = handler.handle_message(&delivery.message_id, &delivery.body).await;
            assert_eq!(outcome, docket_assign::Outcome::Done, "case event failed: {}", delivery.body);
            queue.ack(&delivery.receipt).await.expect("ack a case event");
            worked += 1;
        }
    }
}

/// A queue that takes so many more messages, then refuses every send (a queue outage) until it
/// is given more: tests stop a queue mid-way with it.
pub struct QueueOutage {
    inner: Arc<dyn docket_ports::Queue>,
    accepts: std::sync::atomic::AtomicUsize,
}

impl QueueOutage {
    /// Up, taking every message.
    pub fn new(inner: Arc<dyn docket_ports::Queue>) -> Self {
        Self { inner, accepts: std::sync::atomic::AtomicUsize::new(usize::MAX) }
    }
    /// Takes `n` more messages, then refuses (0: down now; `usize::MAX`: up).
    pub fn accept(&self, n: usize) {
        self.accepts.store(n, std::sync::atomic::Ordering::SeqCst);
    }
    fn take(&self) -> Result<(), docket_ports::PortError> {
        use std::sync::atomic::Ordering;
        self.accepts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| if n == usize::MAX { Some(n) } else { n.checked_sub(1) })
            .map(|_| ())
            .map_err(|_| docket_ports::PortError::Transient("the queue is unavailable".into()))
    }
}

#[async_trait::async_trait]
impl docket_ports::Queue for QueueOutage {
    async fn send(&self, body: &str) -> Result<String, docket_ports::PortError> {
        self.take()?;
        self.inner.send(body).await
    }
    async fn send_grouped(&self, body: &str, group: &str) -> Result<String, docket_ports::PortError> {
        self.take()?;
        self.inner.send_grouped(body, group).await
    }
    async fn receive(&self, max: usize, visibility: Duration) -> Result<Vec<docket_ports::Delivery>, docket_ports::PortError> {
        self.inner.receive(max, visibility).await
    }
    async fn ack(&self, receipt: &str) -> Result<(), docket_ports::PortError> {
        self.inner.ack(receipt).await
    }
    async fn release(&self, receipt: &str) -> Result<(), docket_ports::PortError> {
        self.inner.release(receipt).await
    }
    async fn dead_letters(&self) -> Result<Vec<String>, docket_ports::PortError> {
        self.inner.dead_letters().await
    }
}
