//! `docket bench cost`: what each piece of work costs on AWS, counted rather than guessed.
//!
//! The functions' own handlers run in-process on the functions' own wiring (`Bootstrap`), against
//! the emulator, with every SDK client counted by [`RequestTally`]: each request by service and
//! operation, and DynamoDB's request units by AWS's published rules from the items sent and read.
//! The harness plays AWS's part around them the way the template wires it: SES storing the raw
//! message in S3 then invoking `inbound-email`; API Gateway invoking `api`; the cases table's
//! stream handing new outbox items to `assign`; the event source mappings receiving batches of
//! ten from the queues, invoking `notify` and `assign`, and deleting what they handled. Every
//! invocation is timed. What the harness does only to look (reading the outbox as the stream
//! would hand it over, a queue's depth) goes through uncounted clients.
//!
//! The bill is then those counts at the prices in [`PRICES`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use docket_api::{AppState, Authenticator, TokenKeys, router};
use docket_aws::DynamoItemStore;
use docket_aws::tally::{OperationTally, RequestTally};
use docket_domain::model::Role;
use docket_domain::schema::{CASES, OUTBOX_PARTITION};
use docket_lambda::Bootstrap;
use docket_lambda::config::Config;
use docket_ports::{BlobStore, Queue};
use docket_store::{ItemStore, Query};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

/// A price list: what AWS charges in one region, on demand, and when it was read.
struct Prices {
    region: &'static str,
    as_of: &'static str,
    dynamo_per_million_write_units: f64,
    dynamo_per_million_read_units: f64,
    lambda_per_million_requests: f64,
    /// arm64, as the template builds the functions.
    lambda_per_gb_second: f64,
    sqs_fifo_per_million: f64,
    s3_per_thousand_writes: f64,
    s3_per_thousand_reads: f64,
    s3_per_gb_month: f64,
    api_gateway_http_per_million: f64,
    ses_per_thousand_sent: f64,
    ses_per_thousand_received: f64,
    ses_per_thousand_received_chunks: f64,
}

const PRICES: Prices = Prices {
    region: "us-east-1",
    as_of: "the AWS pricing pages as of 2026-12 (DynamoDB after its November 2024 on-demand reduction)",
    dynamo_per_million_write_units: 0.625,
    dynamo_per_million_read_units: 0.125,
    lambda_per_million_requests: 0.20,
    lambda_per_gb_second: 0.000_013_333_4,
    sqs_fifo_per_million: 0.50,
    s3_per_thousand_writes: 0.005,
    s3_per_thousand_reads: 0.0004,
    s3_per_gb_month: 0.023,
    api_gateway_http_per_million: 1.00,
    ses_per_thousand_sent: 0.10,
    ses_per_thousand_received: 0.10,
    ses_per_thousand_received_chunks: 0.09,
};

/// The functions' memory as `template.yaml` gives it, in MB (the globals' 256, inbound 512).
fn memory_mb(function: &str) -> f64 {
    if function == INBOUND { 512.0 } else { 256.0 }
}

const INBOUND: &str = "inbound-email";
const API: &str = "api";
const NOTIFY: &str = "notify";
const ASSIGN_QUEUE: &str = "assign (queue)";
const ASSIGN_STREAM: &str = "assign (stream relay)";
/// What the event source mappings receive at once (the template's BatchSize).
const BATCH: usize = 10;

/// One scenario's counts, summed over its runs.
#[derive(Default)]
struct Bill {
    runs: usize,
    requests: BTreeMap<(String, String), OperationTally>,
    /// Invocations and their summed duration, by function.
    invocations: BTreeMap<&'static str, (u64, Duration)>,
    /// Requests through API Gateway.
    gateway_requests: u64,
    received: Received,
}

/// Mail SES received: the messages, their 256 KB chunks (SES bills both) and their bytes, kept
/// in S3 as raw copies for a month's storage.
#[derive(Default, Clone, Copy)]
struct Received {
    messages: u64,
    chunks: u64,
    bytes: u64,
}

impl Received {
    fn add(&mut self, other: Received) {
        self.messages += other.messages;
        self.chunks += other.chunks;
        self.bytes += other.bytes;
    }
}

impl Bill {
    fn add(&mut self, tally: BTreeMap<(String, String), OperationTally>) {
        for (operation, counts) in tally {
            let sum = self.requests.entry(operation).or_default();
            sum.calls += counts.calls;
            sum.attempts += counts.attempts;
            sum.bytes_sent += counts.bytes_sent;
            sum.bytes_received += counts.bytes_received;
            sum.write_units += counts.write_units;
            sum.read_units += counts.read_units;
            sum.assumed_write_units += counts.assumed_write_units;
        }
    }

    fn count(&self, service: &str, operation: &str) -> u64 {
        self.requests.get(&(service.to_owned(), operation.to_owned())).map_or(0, |t| t.attempts)
    }

    fn service_requests(&self, service: &str) -> u64 {
        self.requests.iter().filter(|((s, _), _)| s.eq_ignore_ascii_case(service)).map(|(_, t)| t.attempts).sum()
    }

    /// Dollars per 1,000 runs, by line.
    fn priced(&self) -> Vec<(&'static str, f64)> {
        let per_run = |x: f64| x / self.runs.max(1) as f64 * 1000.0;
        let dynamo: (f64, f64) = self
            .requests
            .iter()
            .filter(|((s, _), _)| s.eq_ignore_ascii_case("dynamodb"))
            .fold((0.0, 0.0), |(w, r), (_, t)| (w + t.write_units, r + t.read_units));
        let s3_writes: u64 = ["PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "ListObjectsV2"]
            .iter()
            .map(|op| self.count("S3", op))
            .sum();
        let s3_reads = self.count("S3", "GetObject") + self.count("S3", "HeadObject");
        let sqs = self.service_requests("SQS") as f64;
        let lambda_requests: u64 = self.invocations.values().map(|(n, _)| n).sum();
        let gb_seconds: f64 = self.invocations.iter().map(|(f, (_, d))| memory_mb(f) / 1024.0 * billed_seconds(*d)).sum();
        let sent = self.count("SES", "SendRawEmail") + self.count("SES", "SendEmail");
        vec![
            ("DynamoDB writes", per_run(dynamo.0) * PRICES.dynamo_per_million_write_units / 1e6),
            ("DynamoDB reads", per_run(dynamo.1) * PRICES.dynamo_per_million_read_units / 1e6),
            // Every SQS request at the FIFO price (the notify queue's are standard and cheaper): the
            // counts do not tell the two queues apart, and the line is small either way.
            ("SQS", per_run(sqs) * PRICES.sqs_fifo_per_million / 1e6),
            ("S3 requests", per_run(s3_writes as f64) * PRICES.s3_per_thousand_writes / 1e3 + per_run(s3_reads as f64) * PRICES.s3_per_thousand_reads / 1e3),
            ("S3 storage, one month", per_run(self.received.bytes as f64) / 1e9 * PRICES.s3_per_gb_month),
            ("Lambda requests", per_run(lambda_requests as f64) * PRICES.lambda_per_million_requests / 1e6),
            ("Lambda duration", per_run(gb_seconds) * PRICES.lambda_per_gb_second),
            ("API Gateway", per_run(self.gateway_requests as f64) * PRICES.api_gateway_http_per_million / 1e6),
            ("SES sending (excluded)", per_run(sent as f64) * PRICES.ses_per_thousand_sent / 1e3),
            (
                "SES receiving (excluded)",
                per_run(self.received.messages as f64) * PRICES.ses_per_thousand_received / 1e3
                    + per_run(self.received.chunks as f64) * PRICES.ses_per_thousand_received_chunks / 1e3,
            ),
        ]
    }
}

/// Lambda bills each invocation's duration rounded up to the millisecond.
fn billed_seconds(total: Duration) -> f64 {
    (total.as_secs_f64() * 1000.0).ceil() / 1000.0
}

/// The deployment under measurement: the functions' handlers on one bootstrap whose clients are
/// counted, the harness's uncounted clients, and what setup made.
struct Stack {
    tally: RequestTally,
    app: Router,
    bearer: String,
    inbound: docket_inbound_email::InboundHandler,
    notify: docket_notify::NotifyHandler,
    assign: docket_assign::AssignHandler,
    notify_queue: docket_aws::SqsQueue,
    assign_queue: docket_aws::SqsQueue,
    raw: docket_aws::S3BlobStore,
    /// Uncounted: the outbox as the stream hands it over, and the queues' depths.
    outbox: DynamoItemStore,
    plain_sqs: aws_sdk_sqs::Client,
    queue_urls: (String, String),
    /// Invocations since the last reset.
    invocations: BTreeMap<&'static str, (u64, Duration)>,
    gateway_requests: u64,
    received: Received,
}

const SUPPORT: &str = "support@cost.bench.test";
const MAIL_FROM: &str = "help@cost.bench.test";

impl Stack {
    async fn new(endpoint: &str) -> Result<Self, String> {
        let sdk = docket_aws::config::emulator_sdk_config(endpoint).await;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let plain_sqs = docket_aws::config::sqs_client(&sdk);
        let notify_url = create_queue(&plain_sqs, &format!("cost-notify-{id}"), false).await?;
        let assign_url = create_queue(&plain_sqs, &format!("cost-assign-{id}.fifo"), true).await?;
        let (blob_bucket, raw_bucket) = (format!("cost-blobs-{id}"), format!("cost-raw-{id}"));
        let tally = RequestTally::new();
        let config = Config {
            table_prefix: format!("cost-{id}-"),
            aws_endpoint: Some(endpoint.to_owned()),
            blob_bucket: Some(blob_bucket.clone()),
            notify_queue_url: Some(notify_url.clone()),
            assign_queue_url: Some(assign_url.clone()),
        };
        let aws = Bootstrap { config, sdk: sdk.clone(), tally: Some(tally.clone()) };
        let outbox = DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), format!("cost-{id}-"), docket_domain::schema::tables());
        outbox.create_tables().await.map_err(|e| e.to_string())?;
        for bucket in [&blob_bucket, &raw_bucket] {
            aws.blob_store(bucket).create_bucket().await.map_err(|e| e.to_string())?;
        }
        docket_aws::config::ses_client(&sdk).verify_email_identity().email_address(MAIL_FROM).send().await.map_err(|e| e.to_string())?;
        let settings = docket_domain::notify::MailSettings {
            from: docket_mail::compose::Address { name: Some("Cost Support".into()), email: MAIL_FROM.into() },
            reply_to: SUPPORT.into(),
            message_id_domain: "cost.bench.test".into(),
            provider_message_id_domain: Some("us-east-1.amazonses.com".into()),
            public_url: Some("https://help.cost.bench.test".into()),
        };
        let docket = aws.docket();
        let raw = aws.blob_store(&raw_bucket);
        let inbound = docket_inbound_email::InboundHandler {
            docket: docket.clone(),
            raw_messages: Arc::new(aws.blob_store(&raw_bucket)),
            raw_bucket,
            raw_prefix: "inbound/".into(),
            mailer: Arc::new(aws.mailer()),
            settings: settings.clone(),
        };
        let notify = docket_notify::NotifyHandler { docket: docket.clone(), mailer: Arc::new(aws.mailer()), settings };
        let assign = docket_assign::AssignHandler { docket: docket.clone() };
        let sqs = docket_aws::config::sqs_client(&sdk);
        let (notify_queue, assign_queue) =
            (docket_aws::SqsQueue::new(tally.sqs(&sqs), notify_url.clone(), None), docket_aws::SqsQueue::new(tally.sqs(&sqs), assign_url.clone(), None));
        let admin = docket.create_user_unchecked("Cost Admin", "admin@cost.bench.test", Role::Admin).await.map_err(|e| e.to_string())?;
        let keys = TokenKeys::new(b"benchmark-secret-benchmark-secret");
        let bearer = format!("Bearer {}", keys.mint(&admin.id, Duration::from_secs(3600)).map_err(|e| e.to_string())?);
        // API Gateway's JWT authorizer checks the token before the function runs: no request of
        // the function's. Local tokens stand in for it here and make none either.
        let app = router(AppState { docket: docket.clone(), authenticator: Authenticator::LocalTokens(keys) });
        Ok(Stack {
            tally,
            app,
            bearer,
            inbound,
            notify,
            assign,
            notify_queue,
            assign_queue,
            raw,
            outbox,
            plain_sqs,
            queue_urls: (notify_url, assign_url),
            invocations: BTreeMap::new(),
            gateway_requests: 0,
            received: Received::default(),
        })
    }

    fn invoked(&mut self, function: &'static str, took: Duration) {
        let entry = self.invocations.entry(function).or_default();
        entry.0 += 1;
        entry.1 += took;
    }

    /// One request through API Gateway to the `api` function; the answer must have `expected`.
    async fn call(&mut self, method: &str, path: &str, body: Option<Value>, bearer: bool, expected: StatusCode) -> Result<Value, String> {
        let mut request = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
        if bearer {
            request = request.header(header::AUTHORIZATION, &self.bearer);
        }
        let request = request.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).map_err(|e| e.to_string())?;
        let started = Instant::now();
        let response = self.app.clone().oneshot(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        self.invoked(API, started.elapsed());
        self.gateway_requests += 1;
        if status != expected {
            return Err(format!("{method} {path}: {status}: {}", String::from_utf8_lossy(&bytes)));
        }
        Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// SES receives `raw` for the support address: stores it in the inbound bucket (a request
    /// billed to the bucket's owner) and invokes `inbound-email` with the receipt.
    async fn receive_mail(&mut self, raw: Vec<u8>) -> Result<docket_domain::inbound::InboundLogEntry, String> {
        let key = format!("inbound/{}", ulid::Ulid::new());
        let size = raw.len() as u64;
        self.received.add(Received { messages: 1, chunks: size.div_ceil(256 * 1024), bytes: size });
        self.raw.put(&key, "message/rfc822", raw).await.map_err(|e| e.to_string())?;
        let started = Instant::now();
        let outcome = self.inbound.handle_object(&self.inbound.raw_bucket.clone(), &key, Some(vec![SUPPORT.into()])).await;
        self.invoked(INBOUND, started.elapsed());
        outcome.map_err(|e| e.0)?.ok_or_else(|| "the stored message was not found".to_owned())
    }

    /// Runs what a change sets going until nothing is left: the stream relays new outbox items,
    /// the event source mappings hand the queues' messages to their functions.
    async fn settle(&mut self) -> Result<(), String> {
        for _ in 0..50 {
            let mut worked = false;
            let items = self.outbox.query(Query::table(CASES, OUTBOX_PARTITION).limit(1000)).await.map_err(|e| e.to_string())?.items;
            if !items.is_empty() {
                let started = Instant::now();
                self.assign.docket.relay_items(items).await.map_err(|e| e.to_string())?;
                self.invoked(ASSIGN_STREAM, started.elapsed());
                worked = true;
            }
            for notify in [true, false] {
                let url = if notify { self.queue_urls.0.clone() } else { self.queue_urls.1.clone() };
                if depth(&self.plain_sqs, &url).await? == 0 {
                    continue;
                }
                let queue = if notify { &self.notify_queue } else { &self.assign_queue };
                let deliveries = queue.receive(BATCH, Duration::from_secs(60)).await.map_err(|e| e.to_string())?;
                let started = Instant::now();
                for delivery in &deliveries {
                    let outcome = if notify {
                        self.notify.handle_message(&delivery.message_id, &delivery.body).await
                    } else {
                        self.assign.handle_message(&delivery.message_id, &delivery.body).await
                    };
                    if outcome != docket_lambda::Outcome::Done {
                        return Err(format!("a queue message failed: {}", delivery.body));
                    }
                }
                let took = started.elapsed();
                for delivery in &deliveries {
                    queue.ack(&delivery.receipt).await.map_err(|e| e.to_string())?;
                }
                self.invoked(if notify { NOTIFY } else { ASSIGN_QUEUE }, took);
                worked |= !deliveries.is_empty();
            }
            if !worked {
                return Ok(());
            }
        }
        Err("work kept coming after 50 rounds".into())
    }

    /// Starts counting a scenario: whatever setup left running is finished first.
    async fn begin(&mut self) -> Result<(), String> {
        self.settle().await?;
        self.tally.reset();
        self.invocations.clear();
        self.gateway_requests = 0;
        self.received = Received::default();
        Ok(())
    }

    /// Ends a scenario: its work finished, its counts added to `bill`.
    async fn end(&mut self, bill: &mut Bill) -> Result<(), String> {
        self.settle().await?;
        bill.runs += 1;
        bill.add(self.tally.snapshot());
        for (function, (count, took)) in std::mem::take(&mut self.invocations) {
            let entry = bill.invocations.entry(function).or_default();
            entry.0 += count;
            entry.1 += took;
        }
        bill.gateway_requests += self.gateway_requests;
        bill.received.add(self.received);
        Ok(())
    }
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str, fifo: bool) -> Result<String, String> {
    let mut request = sqs.create_queue().queue_name(name);
    if fifo {
        request = request.attributes(QueueAttributeName::FifoQueue, "true");
    }
    request.send().await.map_err(|e| format!("CreateQueue {name}: {e}"))?.queue_url.ok_or_else(|| "CreateQueue answered no URL".into())
}

async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64, String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| format!("GetQueueAttributes: {e}"))?
        .attributes
        .unwrap_or_default();
    Ok(attributes.get(&QueueAttributeName::ApproximateNumberOfMessages).and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// A customer's message as SES stores it: its verdicts on top (SPF, DKIM and DMARC pass, so the
/// sender is authenticated), about 5 KB of text.
fn customer_mail(index: usize, subject: &str, message_id: &str, in_reply_to: Option<&str>) -> Vec<u8> {
    let line = "The printer on the third floor keeps jamming when printing double-sided pages. ";
    let text = line.repeat(5_000 / line.len());
    let threading = in_reply_to.map(|id| format!("In-Reply-To: {id}\r\nReferences: {id}\r\n")).unwrap_or_default();
    format!(
        "Return-Path: <customer{index}@customer.example>\r\n\
         X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n\
         Received-SPF: pass (spfCheck: domain of customer.example designates 192.0.2.10 as permitted sender)\r\n\
         Authentication-Results: amazonses.com;\r\n spf=pass (spfCheck: ok) smtp.mailfrom=customer.example;\r\n \
         dkim=pass header.i=@customer.example;\r\n dmarc=pass header.from=customer.example;\r\n\
         From: Customer {index} <customer{index}@customer.example>\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Message-ID: {message_id}\r\n{threading}Date: Mon, 07 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    .into_bytes()
}

/// What the scenarios need made once.
struct Setup {
    form_id: String,
    team_id: String,
    followers: Vec<String>,
}

async fn setup(stack: &mut Stack) -> Result<Setup, String> {
    let team = stack.call("POST", "/teams", Some(json!({"name": "Support", "assignment_rule": "round_robin"})), true, StatusCode::CREATED).await?;
    let team_id = team["id"].as_str().unwrap_or_default().to_owned();
    stack
        .call("POST", "/mailboxes", Some(json!({"name": "Support", "addresses": [SUPPORT], "auto_ack": true, "team_id": team_id})), true, StatusCode::CREATED)
        .await?;
    let mut followers = Vec::new();
    for i in 0..3 {
        let body = json!({"name": format!("Agent {i}"), "email": format!("agent{i}@cost.bench.test"), "role": "agent", "team_ids": [team_id]});
        let user = stack.call("POST", "/users", Some(body), true, StatusCode::CREATED).await?;
        followers.push(user["id"].as_str().unwrap_or_default().to_owned());
    }
    let form = stack.call("POST", "/forms", Some(json!({"name": "Contact us", "team_id": team_id})), true, StatusCode::CREATED).await?;
    Ok(Setup { form_id: form["id"].as_str().unwrap_or_default().to_owned(), team_id, followers })
}

const SCENARIOS: [&str; 5] =
    ["new email case, acknowledged", "customer email reply", "agent reply, 3 followers + customer", "web-form case", "API case assigned by round robin"];

pub async fn cost(endpoint: Option<String>, runs: usize) -> Result<(), String> {
    let endpoint = endpoint.ok_or("bench cost needs --endpoint (the moto server URL), or AWS_ENDPOINT_URL")?;
    let mut stack = Stack::new(&endpoint).await?;
    let setup = setup(&mut stack).await?;
    let mut bills: Vec<Bill> = SCENARIOS.iter().map(|_| Bill::default()).collect();
    for i in 0..runs {
        // A new case by email, acknowledged.
        let subject = format!("Printer problem {i}");
        let first_id = format!("<cost-{i}-first@customer.example>");
        stack.begin().await?;
        let logged = stack.receive_mail(customer_mail(i, &subject, &first_id, None)).await?;
        stack.end(&mut bills[0]).await?;
        if logged.outcome != docket_domain::inbound::InboundOutcome::Created || !logged.acknowledged {
            return Err(format!("message {i}: {:?}, acknowledged {} ({})", logged.outcome, logged.acknowledged, logged.reason));
        }
        let number = logged.case_number.ok_or("no case number")?;

        // The customer replies to it.
        stack.begin().await?;
        let raw = customer_mail(i, &format!("Re: [#{number}] {subject}"), &format!("<cost-{i}-reply@customer.example>"), Some(&first_id));
        let reply = stack.receive_mail(raw).await?;
        stack.end(&mut bills[1]).await?;
        if reply.outcome != docket_domain::inbound::InboundOutcome::Appended {
            return Err(format!("reply {i}: {:?} ({})", reply.outcome, reply.reason));
        }

        // An agent answers in public, mailing the customer; three colleagues follow the case.
        for user in &setup.followers {
            stack.call("PUT", &format!("/cases/{number}/followers/{user}"), None, true, StatusCode::OK).await?;
        }
        stack.begin().await?;
        let post = json!({"body": "We have sent a technician; the printer will be fixed today.", "internal": false, "email_customer": true});
        stack.call("POST", &format!("/cases/{number}/stream"), Some(post), true, StatusCode::CREATED).await?;
        stack.end(&mut bills[2]).await?;

        // A visitor uses the web form.
        stack.begin().await?;
        let submission = json!({"name": format!("Visitor {i}"), "email": format!("visitor{i}@customer.example"), "subject": "Question about my order", "message": "Where is order 1234?"});
        stack.call("POST", &format!("/forms/{}/submissions", setup.form_id), Some(submission), false, StatusCode::ACCEPTED).await?;
        stack.end(&mut bills[3]).await?;

        // An agent opens a case for the team; the assign function assigns it round robin.
        stack.begin().await?;
        let new = json!({"subject": format!("Phone call {i}"), "description": "Customer called about the printer.", "team_ids": [setup.team_id]});
        let created = stack.call("POST", "/cases", Some(new), true, StatusCode::CREATED).await?;
        stack.end(&mut bills[4]).await?;
        let assigned = stack.call("GET", &format!("/cases/{}", created["number"]), None, true, StatusCode::OK).await?;
        if assigned["assignee_id"].is_null() {
            return Err(format!("case {} was not assigned: {assigned}", created["number"]));
        }
    }
    report(&bills, runs);
    Ok(())
}

fn report(bills: &[Bill], runs: usize) {
    println!("AWS requests per scenario (mean of {runs} runs; DynamoDB's request units by AWS's rules from the items sent and read)\n");
    println!("| scenario | service | operation | requests | write units | read units | of which assumed |");
    println!("|---|---|---|---|---|---|---|");
    for (name, bill) in SCENARIOS.iter().zip(bills) {
        let n = bill.runs.max(1) as f64;
        for ((service, operation), t) in &bill.requests {
            println!(
                "| {name} | {service} | {operation} | {:.1} | {:.1} | {:.1} | {:.1} |",
                t.attempts as f64 / n,
                t.write_units / n,
                t.read_units / n,
                t.assumed_write_units / n
            );
        }
    }
    println!("\nInvocations per scenario (mean; duration measured against the emulator)\n");
    println!("| scenario | function | invocations | mean ms |");
    println!("|---|---|---|---|");
    for (name, bill) in SCENARIOS.iter().zip(bills) {
        let n = bill.runs.max(1) as f64;
        for (function, (count, took)) in &bill.invocations {
            println!("| {name} | {function} | {:.1} | {:.1} |", *count as f64 / n, took.as_secs_f64() * 1000.0 / (*count).max(1) as f64);
        }
    }
    println!("\nDollars per 1,000 of each scenario, {} on demand, prices of {}\n", PRICES.region, PRICES.as_of);
    let lines: Vec<Vec<(&str, f64)>> = bills.iter().map(|bill| bill.priced()).collect();
    print!("| line |");
    for name in SCENARIOS {
        print!(" {name} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(SCENARIOS.len()));
    let Some(first) = lines.first() else { return };
    for (row, (label, _)) in first.iter().enumerate() {
        print!("| {label} |");
        for priced in &lines {
            print!(" {:.4} |", priced[row].1);
        }
        println!();
    }
    print!("| **total, SES excluded** |");
    for priced in &lines {
        print!(" **{:.4}** |", priced.iter().filter(|(l, _)| !l.contains("excluded")).map(|(_, v)| v).sum::<f64>());
    }
    println!();
}
