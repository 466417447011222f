//! `docket bench`: throughput and latency of the API in-process (on SQLite, or on DynamoDB
//! through an emulator endpoint), and the start-up time of the `api` Lambda binary measured
//! against a local stand-in for the Lambda Runtime API.

mod cost;
mod sla;

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
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
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
        /// Messages in flight at once, as from that many SMTP sessions: their store writes share
        /// group commits. 1 takes them one after the other (as `docket ingest` of a folder does).
        #[arg(long, value_delimiter = ',', default_value = "1")]
        concurrency: Vec<usize>,
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
    /// `docket serve` on a loopback port under the oha load generator: requests per second and
    /// p99 of get, list and create at each number of connections. oha is taken from `--oha`,
    /// else from PATH, else installed once with `cargo install oha --version 1.16.0 --locked` into `--tools`.
    Http {
        #[arg(long, value_delimiter = ',', default_value = "16,64")]
        connections: Vec<usize>,
        /// Requests per operation and number of connections.
        #[arg(long, default_value_t = 5000)]
        requests: usize,
        #[arg(long)]
        oha: Option<PathBuf>,
        /// Where a missing oha is installed (its `bin/oha`).
        #[arg(long, default_value = "target/bench-tools")]
        tools: PathBuf,
    },
    /// What each piece of work costs on AWS: the functions' handlers on their own wiring against
    /// the emulator, every SDK request counted, priced at published on-demand prices.
    Cost {
        /// The emulator (moto server) URL.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: Option<String>,
        /// Runs of each scenario (the figures are their means).
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// The SLA watch at scale on SQLite: `--cases` open cases of which `--breaching` are Urgent
    /// (15-minute first response, the rest Low: a week) under a 24×7 agreement; an hour later,
    /// the sweep that finds and announces the breaches, a sweep with nothing to do, and the
    /// first page of the breached and due-within-60-minutes lists. A fresh seed per count.
    Sla {
        #[arg(long, default_value_t = 100_000)]
        cases: usize,
        /// Urgent cases among them (those that breach), one seed each.
        #[arg(long, value_delimiter = ',', default_value = "100,10000")]
        breaching: Vec<usize>,
        /// Runs of the idle sweep and of each list page.
        #[arg(long, default_value_t = 200)]
        runs: usize,
        /// Cases created and watched at once while seeding.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Also time the naive way: every case of the all-cases list, its clocks computed.
        #[arg(long)]
        naive: bool,
    },
    /// Time from starting each Lambda binary until it first asks the Runtime API for work.
    Startup {
        /// The binaries (built with `cargo build --release -p docket-api -p docket-inbound-email
        /// -p docket-notify -p docket-assign`).
        #[arg(long, value_delimiter = ',', default_value = "target/release/api,target/release/inbound-email,target/release/notify,target/release/assign")]
        binary: Vec<PathBuf>,
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
        BenchCommand::Http { connections, requests, oha, tools } => http(&connections, requests.max(1), oha, &tools).await,
        BenchCommand::Cost { endpoint, runs } => cost::cost(endpoint, runs.max(1)).await,
        BenchCommand::Startup { binary, runs } => startup(&binary, runs.max(1)).await,
        BenchCommand::Fanout { followers } => fanout(&followers).await,
        BenchCommand::NotifyLatency { runs } => notify_latency(runs.max(1)).await,
        BenchCommand::Ingest { counts, concurrency } => ingest(&counts, &concurrency).await,
        BenchCommand::Assign { engine, cases, workers, endpoint } => assign(engine, cases.max(1), workers.max(1), endpoint).await,
        BenchCommand::Sla { cases, breaching, runs, concurrency, naive } => sla::sla(cases.max(1), &breaching, runs.max(1), concurrency.max(1), naive).await,
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
    // Numbered as the process that serves this engine numbers them: `docket serve` in blocks, the
    // functions one at a time.
    let block = match engine {
        Engine::Sqlite => crate::local::CASE_NUMBER_BLOCK,
        Engine::Dynamo => 1,
    };
    let docket = Docket::new(store, Arc::new(SystemClock)).with_case_number_block(block);
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
    let function = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &function)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{function}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("RUST_LOG", "warn")
        // What the template gives the functions (each reads its own share; a missing required
        // variable would stop it before it asks for work). Nothing is called at start-up.
        .env("DOCKET_TABLE_PREFIX", "bench-")
        .env("DOCKET_BLOB_BUCKET", "bench-attachments")
        .env("DOCKET_INBOUND_BUCKET", "bench-inbound")
        .env("DOCKET_NOTIFY_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/000000000000/bench-notify")
        .env("DOCKET_ASSIGN_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/000000000000/bench-assign.fifo")
        .env("DOCKET_MAIL_FROM", "support@bench.example")
        .env("DOCKET_PUBLIC_URL", "https://bench.example")
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

async fn startup(binaries: &[PathBuf], runs: usize) -> Result<(), String> {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| binary | size | runs | min ms | p50 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    for binary in binaries {
        let size = std::fs::metadata(binary)
            .map_err(|e| {
                format!(
                    "{}: {e} (build it with cargo build --release -p docket-api -p docket-inbound-email -p docket-notify -p docket-assign)",
                    binary.display()
                )
            })?
            .len();
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            times.push(start_once(binary).await.map_err(|e| format!("{}: {e}", binary.display()))?);
        }
        times.sort();
        println!(
            "| {} | {:.1} MiB | {runs} | {:.1} | {:.1} | {:.1} |",
            binary.display(),
            size as f64 / (1024.0 * 1024.0),
            ms(times[0]),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
        );
    }
    Ok(())
}

/// The oha binary: the one named, else the one on PATH, else the one installed under `tools`
/// (installing it there first when missing; a benchmark's own tool, never the test command's).
async fn oha_binary(named: Option<PathBuf>, tools: &std::path::Path) -> Result<PathBuf, String> {
    if let Some(named) = named {
        return Ok(named);
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>()).map(|dir| dir.join("oha"));
    if let Some(found) = on_path.into_iter().find(|candidate| candidate.is_file()) {
        return Ok(found);
    }
    let installed = tools.join("bin").join("oha");
    if !installed.is_file() {
        eprintln!("oha is missing: cargo install oha --version 1.16.0 --locked --root {} (once; it takes minutes)", tools.display());
        let status = tokio::process::Command::new("cargo")
            .args(["install", "oha", "--version", "1.16.0", "--locked", "--root"])
            .arg(tools)
            .status()
            .await
            .map_err(|e| format!("cannot run cargo install oha: {e}"))?;
        if !status.success() || !installed.is_file() {
            return Err(format!("cargo install oha failed ({status}); install oha and pass --oha"));
        }
    }
    Ok(installed)
}

/// One oha run; fails unless every answer had the expected status.
async fn oha_run(oha: &std::path::Path, args: &[String], expected: &str) -> Result<(f64, f64), String> {
    let output = tokio::process::Command::new(oha)
        .args(["--no-tui", "--output-format", "json"])
        .args(args)
        .output()
        .await
        .map_err(|e| format!("cannot run oha: {e}"))?;
    if !output.status.success() {
        return Err(format!("oha failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| format!("oha's JSON: {e}"))?;
    let statuses = report["statusCodeDistribution"].as_object().cloned().unwrap_or_default();
    let errors = report["errorDistribution"].as_object().map(|e| e.len()).unwrap_or(0);
    if errors > 0 || statuses.keys().any(|status| status != expected) {
        return Err(format!("unexpected answers: statuses {statuses:?}, errors {}", report["errorDistribution"]));
    }
    let rate = report["summary"]["requestsPerSec"].as_f64().ok_or("oha gave no requestsPerSec")?;
    let p99 = report["latencyPercentiles"]["p99"].as_f64().ok_or("oha gave no p99")?;
    Ok((rate, p99 * 1000.0))
}

async fn http(connections: &[usize], requests: usize, oha: Option<PathBuf>, tools: &std::path::Path) -> Result<(), String> {
    let oha = oha_binary(oha, tools).await?;
    let data = temp_path("http");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut server = tokio::process::Command::new(&exe)
        .arg("--data")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0", "--smtp", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start docket serve: {e}"))?;
    let stderr = server.stderr.take().ok_or("no stderr of docket serve")?;
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    // The server names the port it bound (port 0 picks a free one) on its first lines.
    let address = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.map_err(|e| e.to_string())? {
            if let Some(rest) = line.strip_prefix("Docket is serving http://") {
                return Ok(rest.split_whitespace().next().unwrap_or_default().to_owned());
            }
        }
        Err("docket serve stopped before serving".to_owned())
    })
    .await
    .map_err(|_| "docket serve did not start within 30 s".to_owned())??;
    // Keep reading its stderr so that the pipe never fills and stalls it.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let token = tokio::process::Command::new(&exe).arg("--data").arg(&data).arg("token").output().await.map_err(|e| format!("docket token: {e}"))?;
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    if token.is_empty() {
        return Err("docket token printed no token".into());
    }
    let auth = format!("Authorization: Bearer {token}");
    let base = format!("http://{address}");
    let create_args = |n: usize, c: usize| -> Vec<String> {
        [
            "-n",
            &n.to_string(),
            "-c",
            &c.to_string(),
            "-m",
            "POST",
            "-T",
            "application/json",
            "-d",
            r#"{"subject":"Load","description":"Measured over HTTP","priority":"High"}"#,
            "-H",
            &auth,
            &format!("{base}/cases"),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    // Cases to read (numbers 1..=200), made before any measurement.
    oha_run(&oha, &create_args(200, 4), "201").await?;
    println!(
        "`docket serve` at {base} (SQLite, WAL, synchronous=NORMAL: the API does not call sync), oha closed loop, {requests} requests per row
"
    );
    println!("| operation | connections | req/s | p99 ms |");
    println!("|---|---|---|---|");
    for &c in connections {
        let c = c.max(1);
        let common = |extra: &[&str]| -> Vec<String> {
            let mut args: Vec<String> = ["-n", &requests.to_string(), "-c", &c.to_string(), "-H", &auth].map(str::to_owned).to_vec();
            args.extend(extra.iter().map(|a| (*a).to_owned()));
            args
        };
        // Random numbers 1..=99 (regex-generated URLs), so reads spread over the cases.
        let get = common(&["--rand-regex-url", &format!("{base}/cases/[1-9][0-9]?")]);
        let list = common(&[&format!("{base}/cases?limit=25")]);
        for (name, args, expected) in
            [("get case by number", get, "200"), ("list 25 newest cases", list, "200"), ("create case", create_args(requests, c), "201")]
        {
            let (rate, p99) = oha_run(&oha, &args, expected).await?;
            println!("| {name} | {c} | {rate:.0} | {p99:.2} |");
        }
    }
    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&data);
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

/// Removes a benchmark's SQLite file with its WAL and shared-memory files.
fn remove_database(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

async fn ingest(counts: &[usize], concurrency: &[usize]) -> Result<(), String> {
    let classes = [("small (5 KB)", 5_000, 0), ("typical (50 KB)", 45_000, 5_000), ("large (5 MB attachment)", 2_000, 5 * 1024 * 1024)];
    println!("| message | in flight | messages | msgs/s | p50 ms | p99 ms | mail-parser parse p50 ms | Docket / parse-only (p50) |");
    println!("|---|---|---|---|---|---|---|---|");
    for &flight in concurrency {
        let flight = flight.max(1);
        for ((name, body, attachment), &count) in classes.iter().zip(counts) {
            if count == 0 {
                continue;
            }
            let (store_path, blobs_path, outbox_path) = (temp_path("store.sqlite"), temp_path("blobs"), temp_path("outbox"));
            let store = docket_embedded::SqliteItemStore::open(&store_path, docket_domain::schema::tables()).map_err(|e| e.to_string())?;
            let docket = Docket::new(Arc::new(store), Arc::new(SystemClock)).with_case_number_block(crate::local::CASE_NUMBER_BLOCK);
            let admin = docket_domain::Principal::Staff(
                docket.create_user_unchecked("Bench Admin", "bench@docket.localhost", Role::Admin).await.map_err(|e| e.to_string())?,
            );
            let blobs = docket_embedded::FileBlobStore::new(blobs_path.clone()).map_err(|e| e.to_string())?;
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
            let mailer = docket_embedded::OutboxMailer::new(outbox_path.clone()).map_err(|e| e.to_string())?;
            let settings = crate::local::local_mail_settings();
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
            // `flight` lanes, each taking its messages one after the other, as SMTP sessions do.
            let mut lanes: Vec<Vec<(usize, Vec<u8>)>> = (0..flight).map(|_| Vec::new()).collect();
            for (i, raw) in messages.into_iter().enumerate() {
                lanes[i % flight].push((i, raw));
            }
            let started = Instant::now();
            let tasks: Vec<_> = lanes
                .into_iter()
                .map(|lane| {
                    let (docket, mailer, settings) = (docket.clone(), mailer.clone(), settings.clone());
                    tokio::spawn(async move {
                        let pipeline = docket_domain::inbound::Inbound { docket: &docket, mailer: Some(&mailer), settings: &settings };
                        let mut latencies = Vec::with_capacity(lane.len());
                        for (i, raw) in lane {
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
                        Ok::<_, String>(latencies)
                    })
                })
                .collect();
            let mut latencies = Vec::with_capacity(count);
            for task in tasks {
                latencies.extend(task.await.map_err(|e| e.to_string())??);
            }
            let wall = started.elapsed();
            latencies.sort();
            parse_only.sort();
            let sample = Sample { name: "", wall, latencies };
            let parse_p50 = parse_only[parse_only.len() / 2];
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "| {name} | {flight} | {count} | {:.0} | {:.2} | {:.2} | {:.3} | {:.1}× |",
                count as f64 / wall.as_secs_f64(),
                ms(sample.percentile(0.5)),
                ms(sample.percentile(0.99)),
                ms(parse_p50),
                sample.percentile(0.5).as_secs_f64() / parse_p50.as_secs_f64().max(1e-9),
            );
            drop(docket);
            remove_database(&store_path);
            let _ = std::fs::remove_dir_all(&blobs_path);
            let _ = std::fs::remove_dir_all(&outbox_path);
        }
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
