//! `docket bench`: throughput and latency of the API in-process (on SQLite, or on DynamoDB
//! through an emulator endpoint), and the start-up time of the `api` Lambda binary measured
//! against a local stand-in for the Lambda Runtime API.

use docket_domain::directory::{MailboxFields, TeamFields, UserFields};
use docket_domain::model::AssignmentRule;
use docket_domain::stream::{NewPost, PostFields};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use clap::{Subcommand, ValueEnum};
use docket_api::{AppState, Authenticator, TokenKeys, router};
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::model::Role;
use docket_store::ItemStore;
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Create, get and list cases through the router, in-process.
    Api {
        #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
        engine: Engine,
        /// Requests per operation.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// DynamoDB endpoint (the moto server) for `--engine dynamo`.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: Option<String>,
    },
    /// Compose and send one entry's notification to 1, 100 and 1,000 followers (outbox folder).
    Fanout {
        #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
        followers: Vec<usize>,
    },
    /// Time from a post until its notification is in the outbox, through the local queue worker.
    NotifyLatency {
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
    /// Email-to-case end to end on SQLite (parse, classify, thread, persist) for small, typical
    /// and large mail, beside mail-parser's parse-only time on the same messages.
    Ingest {
        /// Messages per size class: small, typical, large.
        #[arg(long, value_delimiter = ',', default_value = "400,200,20")]
        counts: Vec<usize>,
    },
    /// Assignment rules: new cases of a team of seven assigned through the assign queue by
    /// Round-Robin and by Least-Busy, by one or more workers (SQLite queue, or SQS FIFO).
    Assign {
        #[arg(long, value_enum, default_value_t = Engine::Sqlite)]
        engine: Engine,
        /// Cases per rule.
        #[arg(long, default_value_t = 1000)]
        cases: usize,
        /// Workers working the queue at once.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// The emulator endpoint (DynamoDB and SQS) for `--engine dynamo`.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: Option<String>,
    },
    /// Time from starting the `api` binary until it first asks the Runtime API for work.
    Startup {
        #[arg(long, default_value = "target/release/api")]
        binary: PathBuf,
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Engine {
    Sqlite,
    Dynamo,
}

pub async fn run(command: BenchCommand) -> Result<(), String> {
    match command {
        BenchCommand::Api { engine, requests, concurrency, endpoint } => api(engine, requests, concurrency.max(1), endpoint).await,
        BenchCommand::Startup { binary, runs } => startup(&binary, runs.max(1)).await,
        BenchCommand::Fanout { followers } => fanout(&followers).await,
        BenchCommand::NotifyLatency { runs } => notify_latency(runs.max(1)).await,
        BenchCommand::Ingest { counts } => ingest(&counts).await,
        BenchCommand::Assign { engine, cases, workers, endpoint } => assign(engine, cases.max(1), workers.max(1), endpoint).await,
    }
}

async fn store_for(engine: Engine, endpoint: Option<String>) -> Result<(Arc<dyn ItemStore>, String), String> {
    let tables = docket_domain::schema::tables();
    match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir().join(format!("docket-bench-{}.sqlite", ulid::Ulid::new()));
            let store = docket_embedded::SqliteItemStore::open(&path, tables).map_err(|e| e.to_string())?;
            Ok((Arc::new(store), format!("SQLite file {}", path.display())))
        }
        Engine::Dynamo => {
            let endpoint = endpoint.ok_or("--engine dynamo needs --endpoint (the moto server URL)")?;
            let sdk = docket_aws::config::emulator_sdk_config(&endpoint).await;
            let prefix = format!("bench-{}-", ulid::Ulid::new().to_string().to_lowercase());
            let store = docket_aws::DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), prefix, tables);
            store.create_tables().await.map_err(|e| e.to_string())?;
            Ok((Arc::new(store), format!("DynamoDB at {endpoint}")))
        }
    }
}

/// Latencies of one operation, sorted.
struct Sample {
    name: &'static str,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Sample {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies.get(index).copied().unwrap_or_default()
    }
    fn row(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            self.name,
            self.latencies.len(),
            self.latencies.len() as f64 / self.wall.as_secs_f64(),
            ms(self.percentile(0.5)),
            ms(self.percentile(0.99)),
            ms(self.latencies.last().copied().unwrap_or_default()),
        )
    }
}

/// Runs `requests` requests built by `make` on `concurrency` workers; every answer must have
/// `expected` status, or the benchmark fails (a fast error is no measurement).
async fn measure<F>(name: &'static str, app: &Router, requests: usize, concurrency: usize, expected: StatusCode, make: F) -> Result<Sample, String>
where
    F: Fn(usize) -> Request<Body> + Send + Sync + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (app, next, make) = (app.clone(), next.clone(), make.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return Ok(latencies);
                }
                let begun = Instant::now();
                let response = app.clone().oneshot(make(i)).await.map_err(|e| e.to_string())?;
                let status = response.status();
                let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
                latencies.push(begun.elapsed());
                if status != expected {
                    return Err(format!("{name}: got {status}: {}", String::from_utf8_lossy(&body)));
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(requests);
    for worker in workers {
        latencies.extend(worker.await.map_err(|e| e.to_string())??);
    }
    let wall = started.elapsed();
    latencies.sort();
    Ok(Sample { name, wall, latencies })
}

async fn api(engine: Engine, requests: usize, concurrency: usize, endpoint: Option<String>) -> Result<(), String> {
    let (store, description) = store_for(engine, endpoint).await?;
    let docket = Docket::new(store, Arc::new(SystemClock));
    let admin = docket.create_user_unchecked("Bench Admin", "bench@docket.localhost", Role::Admin).await.map_err(|e| e.to_string())?;
    let keys = TokenKeys::new(b"benchmark-secret-benchmark-secret");
    let bearer = format!("Bearer {}", keys.mint(&admin.id, Duration::from_secs(3600)).map_err(|e| e.to_string())?);
    let app = router(AppState { docket, authenticator: Authenticator::LocalTokens(keys) });

    let auth = bearer.clone();
    let create = measure("create case", &app, requests, concurrency, StatusCode::CREATED, move |i| {
        Request::post("/cases")
            .header(header::AUTHORIZATION, &auth)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(r#"{{"subject":"Benchmark case {i}","description":"Measured","priority":"High"}}"#)))
            .unwrap_or_default()
    })
    .await?;
    let auth = bearer.clone();
    let get = measure("get case by number", &app, requests, concurrency, StatusCode::OK, move |i| {
        Request::get(format!("/cases/{}", i % requests + 1)).header(header::AUTHORIZATION, &auth).body(Body::empty()).unwrap_or_default()
    })
    .await?;
    let auth = bearer.clone();
    let list = measure("list 25 newest cases", &app, requests, concurrency, StatusCode::OK, move |_| {
        Request::get("/cases?limit=25").header(header::AUTHORIZATION, &auth).body(Body::empty()).unwrap_or_default()
    })
    .await?;
    let auth = bearer;
    let list_status = measure("list 25 by status", &app, requests, concurrency, StatusCode::OK, move |_| {
        Request::get("/cases?status=New&limit=25").header(header::AUTHORIZATION, &auth).body(Body::empty()).unwrap_or_default()
    })
    .await?;

    println!("In-process API on {description}, {requests} requests per operation, {concurrency} concurrent\n");
    println!("| operation | requests | req/s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for sample in [create, get, list, list_status] {
        println!("{}", sample.row());
    }
    Ok(())
}

const NEXT_INVOCATION: &str = "GET /2018-06-01/runtime/invocation/next";

/// One start of the binary: milliseconds until its first request for work.
async fn start_once(binary: &std::path::Path) -> Result<Duration, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "api")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/api")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        let (mut socket, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let mut seen = Vec::new();
        let mut buffer = [0u8; 1024];
        while !String::from_utf8_lossy(&seen).contains(NEXT_INVOCATION) {
            let n = socket.read(&mut buffer).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the binary closed the connection before asking for work".to_owned());
            }
            seen.extend_from_slice(&buffer[..n]);
        }
        let elapsed = started.elapsed();
        let _ = socket.shutdown().await;
        Ok(elapsed)
    })
    .await
    .map_err(|_| "the binary did not ask for work within 10 s".to_owned())?;
    let _ = child.kill().await;
    waited
}

async fn startup(binary: &std::path::Path, runs: usize) -> Result<(), String> {
    let size = std::fs::metadata(binary).map_err(|e| format!("{}: {e} (build it with cargo build --release -p docket-api)", binary.display()))?.len();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(start_once(binary).await?);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| binary | size | runs | min ms | p50 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {:.1} MiB | {runs} | {:.1} | {:.1} | {:.1} |",
        binary.display(),
        size as f64 / (1024.0 * 1024.0),
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
    );
    Ok(())
}

fn temp_path(what: &str) -> PathBuf {
    std::env::temp_dir().join(format!("docket-bench-{what}-{}", ulid::Ulid::new()))
}

/// A fresh local application on a temporary SQLite file, with an admin.
async fn local_docket() -> Result<(Docket, docket_domain::Principal), String> {
    let store = docket_embedded::SqliteItemStore::open(&temp_path("store.sqlite"), docket_domain::schema::tables()).map_err(|e| e.to_string())?;
    let docket = Docket::new(Arc::new(store), Arc::new(SystemClock));
    let admin = docket.create_user_unchecked("Bench Admin", "bench@docket.localhost", Role::Admin).await.map_err(|e| e.to_string())?;
    Ok((docket, docket_domain::Principal::Staff(admin)))
}

fn outbox_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.filter_map(|e| e.ok()).filter(|e| e.path().extension().is_some_and(|x| x == "eml")).count()).unwrap_or(0)
}

async fn fanout(counts: &[usize]) -> Result<(), String> {
    println!("| followers | emails | total ms | emails/s |");
    println!("|---|---|---|---|");
    for &count in counts {
        let (docket, admin) = local_docket().await?;
        let cases = docket.cases();
        let case = cases
            .create(&admin, docket_domain::cases::Cases::parse_new(&admin, serde_json::json!({"subject": "Fan-out"})).map_err(|e| e.to_string())?, None)
            .await
            .map_err(|e| e.to_string())?
            .case;
        for i in 0..count {
            let user =
                docket.create_user_unchecked(&format!("Follower {i}"), &format!("follower{i}@bench.test"), Role::Agent).await.map_err(|e| e.to_string())?;
            cases.follow(&admin, &case.id, Some(&user.id)).await.map_err(|e| e.to_string())?;
        }
        let (_, entry) = cases.post(&admin, &case.id, bench_post("One entry for everyone")).await.map_err(|e| e.to_string())?;
        let outbox = temp_path("outbox");
        let mailer = docket_embedded::OutboxMailer::new(outbox.clone()).map_err(|e| e.to_string())?;
        let settings = crate::local::local_mail_settings();
        let notifier = docket_domain::notify::Notifier { docket: &docket, mailer: &mailer, settings: &settings };
        let message = serde_json::json!({"case_id": case.id, "entry_id": entry.id}).to_string();
        let started = Instant::now();
        let handled = notifier.handle(&message).await.map_err(|e| e.to_string())?;
        let elapsed = started.elapsed();
        if handled.sent != count || outbox_files(&outbox) != count {
            return Err(format!("expected {count} emails, sent {} and found {} files", handled.sent, outbox_files(&outbox)));
        }
        println!("| {count} | {} | {:.1} | {:.0} |", handled.sent, elapsed.as_secs_f64() * 1000.0, count as f64 / elapsed.as_secs_f64());
        let _ = std::fs::remove_dir_all(&outbox);
    }
    Ok(())
}

async fn notify_latency(runs: usize) -> Result<(), String> {
    let queue = Arc::new(crate::worker::WakingQueue::new(docket_embedded::SqliteQueue::in_memory("notify", 5).map_err(|e| e.to_string())?));
    let (docket, admin) = local_docket().await?;
    let docket = docket.with_notify_queue(queue.clone());
    let outbox = temp_path("outbox");
    let handler = Arc::new(docket_notify::NotifyHandler {
        docket: docket.clone(),
        mailer: Arc::new(docket_embedded::OutboxMailer::new(outbox.clone()).map_err(|e| e.to_string())?),
        settings: crate::local::local_mail_settings(),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(crate::worker::run(queue, handler, stopped));
    let cases = docket.cases();
    let case = cases
        .create(&admin, docket_domain::cases::Cases::parse_new(&admin, serde_json::json!({"subject": "Latency"})).map_err(|e| e.to_string())?, None)
        .await
        .map_err(|e| e.to_string())?
        .case;
    let follower = docket.create_user_unchecked("Follower", "follower@bench.test", Role::Agent).await.map_err(|e| e.to_string())?;
    cases.follow(&admin, &case.id, Some(&follower.id)).await.map_err(|e| e.to_string())?;
    let mut latencies = Vec::with_capacity(runs);
    for i in 0..runs {
        let before = outbox_files(&outbox);
        let started = Instant::now();
        cases.post(&admin, &case.id, bench_post(&format!("post {i}"))).await.map_err(|e| e.to_string())?;
        while outbox_files(&outbox) == before {
            if started.elapsed() > Duration::from_secs(10) {
                return Err("no notification reached the outbox within 10 s".into());
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(started.elapsed());
    }
    let _ = stop.send(true);
    let _ = worker.await;
    latencies.sort();
    let sample = Sample { name: "post → .eml in outbox", wall: latencies.iter().sum(), latencies };
    println!("| operation | runs | per s | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    println!("{}", sample.row());
    Ok(())
}

/// A deterministic message of about `body_bytes` of text (and an attachment of `attachment_bytes`).
fn sample_message(index: usize, body_bytes: usize, attachment_bytes: usize, to: &str) -> Vec<u8> {
    let line = "The printer on the third floor keeps jamming when printing double-sided pages. ";
    let text: String = line.repeat(body_bytes / line.len() + 1).chars().take(body_bytes).collect();
    let mut raw = format!(
        "From: Customer {index} <customer{index}@bench.test>\r\nTo: {to}\r\nSubject: Printer problem {index}\r\n\
         Message-ID: <bench-{index}-{body_bytes}-{attachment_bytes}@bench.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    );
    if attachment_bytes == 0 {
        raw.push_str(&format!("Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"));
        return raw.into_bytes();
    }
    use base64::Engine as _;
    let payload: Vec<u8> = (0..attachment_bytes).map(|i| (i * 31 % 251) as u8).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(payload);
    let wrapped: Vec<&str> = encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    raw.push_str(&format!(
        "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n\
         --b\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        wrapped.join("\r\n")
    ));
    raw.into_bytes()
}

async fn ingest(counts: &[usize]) -> Result<(), String> {
    let classes = [("small (5 KB)", 5_000, 0), ("typical (50 KB)", 45_000, 5_000), ("large (5 MB attachment)", 2_000, 5 * 1024 * 1024)];
    println!("| message | messages | msgs/s | p50 ms | p99 ms | mail-parser parse p50 ms | Docket / parse-only (p50) |");
    println!("|---|---|---|---|---|---|---|");
    for ((name, body, attachment), &count) in classes.iter().zip(counts) {
        if count == 0 {
            continue;
        }
        let (docket, admin) = local_docket().await?;
        let blobs = docket_embedded::FileBlobStore::new(temp_path("blobs")).map_err(|e| e.to_string())?;
        let docket = docket.with_blobs(Arc::new(blobs));
        let to = "support@bench.test";
        docket
            .directory_service()
            .create::<docket_domain::model::Mailbox>(
                &admin,
                MailboxFields { name: "Bench".into(), addresses: vec![to.into()], auto_ack: true, ..Default::default() },
            )
            .await
            .map_err(|e| e.to_string())?;
        let mailer = docket_embedded::OutboxMailer::new(temp_path("outbox")).map_err(|e| e.to_string())?;
        let settings = crate::local::local_mail_settings();
        let pipeline = docket_domain::inbound::Inbound { docket: &docket, mailer: Some(&mailer), settings: &settings };
        let messages: Vec<Vec<u8>> = (0..count).map(|i| sample_message(i, *body, *attachment, to)).collect();
        let mut parse_only = Vec::with_capacity(count);
        for raw in &messages {
            let started = Instant::now();
            let parsed = mail_parser::MessageParser::default().parse(raw);
            parse_only.push(started.elapsed());
            if parsed.is_none() {
                return Err("mail-parser could not parse a benchmark message".into());
            }
        }
        let mut latencies = Vec::with_capacity(count);
        let started = Instant::now();
        for (i, raw) in messages.into_iter().enumerate() {
            let begun = Instant::now();
            let entry = pipeline
                .receive(docket_domain::inbound::InboundMail {
                    source_id: format!("bench:{i}"),
                    envelope_to: vec![to.into()],
                    raw,
                    received_by_ses: false,
                    trusted_sender: false,
                })
                .await
                .map_err(|e| e.to_string())?;
            latencies.push(begun.elapsed());
            if entry.outcome != docket_domain::inbound::InboundOutcome::Created {
                return Err(format!("message {i}: {:?} ({})", entry.outcome, entry.reason));
            }
        }
        let wall = started.elapsed();
        latencies.sort();
        parse_only.sort();
        let sample = Sample { name: "", wall, latencies };
        let parse_p50 = parse_only[parse_only.len() / 2];
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {name} | {count} | {:.0} | {:.2} | {:.2} | {:.3} | {:.1}× |",
            count as f64 / wall.as_secs_f64(),
            ms(sample.percentile(0.5)),
            ms(sample.percentile(0.99)),
            ms(parse_p50),
            sample.percentile(0.5).as_secs_f64() / parse_p50.as_secs_f64().max(1e-9),
        );
    }
    Ok(())
}

/// The assign queue of the engine's kind, in a fresh place.
async fn assign_queue_for(engine: Engine, endpoint: Option<&str>) -> Result<Arc<dyn docket_ports::Queue>, String> {
    match engine {
        Engine::Sqlite => {
            let queue = docket_embedded::SqliteQueue::open(&temp_path("assign.sqlite"), "assign", 5).map_err(|e| e.to_string())?;
            Ok(Arc::new(queue))
        }
        Engine::Dynamo => {
            let endpoint = endpoint.ok_or("--engine dynamo needs --endpoint (the moto server URL)")?;
            let sdk = docket_aws::config::emulator_sdk_config(endpoint).await;
            let name = format!("bench-assign-{}", ulid::Ulid::new().to_string().to_lowercase());
            let queue = docket_aws::SqsQueue::create_fifo_with_dead_letter(docket_aws::config::sqs_client(&sdk), &name, 5).await.map_err(|e| e.to_string())?;
            Ok(Arc::new(queue))
        }
    }
}

async fn assign(engine: Engine, cases: usize, workers: usize, endpoint: Option<String>) -> Result<(), String> {
    println!("| engine | rule | cases | workers | assignments/s | p50 ms | p99 ms | spread (min–max per member) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (rule, assignment_rule) in [("round_robin", AssignmentRule::RoundRobin), ("least_busy", AssignmentRule::LeastBusy)] {
        let (store, _) = store_for(engine, endpoint.clone()).await?;
        let queue = assign_queue_for(engine, endpoint.as_deref()).await?;
        let docket = Docket::new(store, Arc::new(SystemClock)).with_assign_queue(queue.clone());
        let admin = docket_domain::Principal::Staff(
            docket.create_user_unchecked("Bench Admin", "bench@docket.localhost", Role::Admin).await.map_err(|e| e.to_string())?,
        );
        let directory = docket.directory_service();
        let team: docket_domain::model::Team = directory
            .create(&admin, TeamFields { name: "Bench team".into(), assignment_rule: Some(assignment_rule), ..Default::default() })
            .await
            .map_err(|e| e.to_string())?;
        let mut members = Vec::new();
        for i in 0..7 {
            let fields = UserFields {
                name: format!("Agent {i}"),
                email: format!("agent{i}@bench.test"),
                role: Role::Agent,
                scope: Default::default(),
                team_ids: vec![team.id.clone()],
                active: true,
                preferences: Default::default(),
            };
            let user: docket_domain::model::User = directory.create(&admin, fields).await.map_err(|e| e.to_string())?;
            members.push(user.id);
        }
        for i in 0..cases {
            let body = serde_json::json!({"subject": format!("Bench case {i}"), "team_ids": [team.id]});
            let new = docket_domain::cases::Cases::parse_new(&admin, body).map_err(|e| e.to_string())?;
            docket.cases().create(&admin, new, None).await.map_err(|e| e.to_string())?;
        }
        let handler = Arc::new(docket_assign::AssignHandler { docket: docket.clone() });
        let started = Instant::now();
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let (queue, handler) = (queue.clone(), handler.clone());
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    loop {
                        let deliveries = queue.receive(10, Duration::from_secs(60)).await.map_err(|e| e.to_string())?;
                        if deliveries.is_empty() {
                            return Ok::<_, String>(latencies);
                        }
                        for delivery in deliveries {
                            let began = Instant::now();
                            if handler.handle_message(&delivery.message_id, &delivery.body).await != docket_assign::Outcome::Done {
                                return Err(format!("a case event failed: {}", delivery.body));
                            }
                            latencies.push(began.elapsed());
                            queue.ack(&delivery.receipt).await.map_err(|e| e.to_string())?;
                        }
                    }
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.map_err(|e| e.to_string())??);
        }
        let wall = started.elapsed();
        latencies.sort();
        let mut per_member = Vec::new();
        for member in &members {
            per_member.push(docket.cases().open_case_count(member).await.map_err(|e| e.to_string())?);
        }
        let assigned: i64 = per_member.iter().sum();
        if assigned != cases as i64 {
            return Err(format!("{rule}: {assigned} of {cases} cases were assigned"));
        }
        let sample = Sample { name: "assign", wall, latencies };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "| {} | {rule} | {cases} | {workers} | {:.0} | {:.2} | {:.2} | {}–{} |",
            match engine {
                Engine::Sqlite => "SQLite",
                Engine::Dynamo => "DynamoDB + SQS FIFO (moto)",
            },
            cases as f64 / wall.as_secs_f64(),
            ms(sample.percentile(0.5)),
            ms(sample.percentile(0.99)),
            per_member.iter().min().copied().unwrap_or(0),
            per_member.iter().max().copied().unwrap_or(0),
        );
    }
    Ok(())
}

/// A staff post of plain text.
fn bench_post(body: &str) -> NewPost {
    NewPost::Staff(PostFields { body: body.into(), internal: false, email_customer: false, attachment_ids: Vec::new() })
}
