//! `docket bench`: throughput and latency of the API in-process (on SQLite, or on DynamoDB
//! through an emulator endpoint), and the start-up time of the `api` Lambda binary measured
//! against a local stand-in for the Lambda Runtime API.

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
