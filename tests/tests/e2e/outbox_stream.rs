//! The outbox delivered through the cases table's DynamoDB stream, as on AWS: changes made with
//! deferred delivery (the functions' setting) only write their OUTBOX items; the emulator's
//! stream of the table, read over its HTTP API, is handed to the assign function's handler as
//! Lambda hands it over; the handler puts the messages on SQS in commit order and deletes the
//! items. With the notify queue down it reports the refused record and every later one, keeps
//! their items, and a redelivery from there sends each message once, in order.

use std::sync::Arc;
use std::time::Duration;

use docket_assign::AssignHandler;
use docket_domain::Docket;
use docket_domain::clock::SystemClock;
use docket_domain::outbox::OutboxDelivery;
use docket_domain::schema::{CASES, OUTBOX_PARTITION};
use docket_e2e::{Engine, QueueOutage, TestApi, aws_endpoint, id_of, on_both_engines};
use docket_ports::Queue;
use docket_store::{ItemStore, Query};
use serde_json::{Value, json};

on_both_engines!(the_sample_stream_event_is_relayed_in_order);

/// moto's DynamoDB and DynamoDB Streams APIs spoken directly (JSON over HTTP), for what the
/// store adapter never does: turning a table's stream on and reading it. The workspace has no
/// SDK crate for streams; moto checks no signature, the credential scope only routes the call.
struct MotoStreams {
    http: reqwest::Client,
    endpoint: String,
    region: String,
}

impl MotoStreams {
    fn new() -> Self {
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into());
        MotoStreams { http: reqwest::Client::new(), endpoint: aws_endpoint(), region }
    }

    async fn call(&self, target: &str, body: Value) -> Value {
        let authorization =
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/{}/dynamodb/aws4_request, SignedHeaders=host;x-amz-target, Signature=0", self.region);
        let response = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            .header("authorization", authorization)
            .body(body.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{target}: {e}"));
        let status = response.status();
        let text = response.text().await.expect("a response body");
        assert!(status.is_success(), "{target}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{target}: {e}: {text}"))
    }

    /// Turns on the table's stream as template.yaml does (NEW_IMAGE); returns its ARN.
    async fn enable(&self, table: &str) -> String {
        let spec = json!({"TableName": table, "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}});
        let described = self.call("DynamoDB_20120810.UpdateTable", spec).await;
        described["TableDescription"]["LatestStreamArn"].as_str().unwrap_or_else(|| panic!("no stream ARN in {described}")).to_owned()
    }

    /// Every record of the stream so far, oldest first, as Lambda passes them to the function
    /// (it adds the stream's ARN to each).
    async fn records(&self, stream: &str) -> Vec<Value> {
        let described = self.call("DynamoDBStreams_20120810.DescribeStream", json!({"StreamArn": stream})).await;
        let shards = described["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default();
        let mut records = Vec::new();
        for shard in shards {
            let iterator = self
                .call(
                    "DynamoDBStreams_20120810.GetShardIterator",
                    json!({"StreamArn": stream, "ShardId": shard["ShardId"], "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await;
            let page = self.call("DynamoDBStreams_20120810.GetRecords", json!({"ShardIterator": iterator["ShardIterator"], "Limit": 1000})).await;
            for mut record in page["Records"].as_array().cloned().unwrap_or_default() {
                record["eventSourceARN"] = json!(stream);
                records.push(record);
            }
        }
        records
    }
}

/// The cases table on the emulator with its stream on, the two queues (SQS, and SQS FIFO for
/// case events), the API over a Docket configured as the functions are on AWS, and the assign
/// handler, whose notify queue can go down.
struct World {
    store: Arc<dyn ItemStore>,
    streams: MotoStreams,
    stream: String,
    notify: Arc<dyn Queue>,
    assign: Arc<dyn Queue>,
    notify_outage: Arc<QueueOutage>,
    api: TestApi,
    handler: AssignHandler,
}

async fn world() -> World {
    let sdk = docket_aws::config::emulator_sdk_config(&aws_endpoint()).await;
    let prefix = format!("t{}-", ulid::Ulid::new().to_string().to_lowercase());
    let dynamo = docket_aws::DynamoItemStore::new(docket_aws::config::dynamo_client(&sdk), prefix.clone(), docket_domain::schema::tables());
    dynamo.create_tables().await.expect("create tables on the emulator");
    let streams = MotoStreams::new();
    let stream = streams.enable(&format!("{prefix}{CASES}")).await;
    let store: Arc<dyn ItemStore> = Arc::new(dynamo);
    let (notify, assign) = (docket_e2e::queue(Engine::Dynamo, 5).await, docket_e2e::assign_queue(Engine::Dynamo, 5).await);
    // As the functions' main.rs do: the queues are configured, the stream delivers.
    let functions = Docket::new(store.clone(), Arc::new(SystemClock))
        .with_notify_queue(notify.clone())
        .with_assign_queue(assign.clone())
        .with_outbox_delivery(OutboxDelivery::Deferred(None));
    let notify_outage = Arc::new(QueueOutage::new(notify.clone()));
    let relay = Docket::new(store.clone(), Arc::new(SystemClock))
        .with_notify_queue(notify_outage.clone())
        .with_assign_queue(assign.clone())
        .with_outbox_delivery(OutboxDelivery::Deferred(None));
    let api = TestApi::with_docket(functions).await;
    World { store, streams, stream, notify, assign, notify_outage, api, handler: AssignHandler { docket: relay } }
}

/// One stream record as the test reads it.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    sequence_number: String,
    /// `(id, queue, body)` when the record inserted an outbox item.
    outbox: Option<(String, String, String)>,
}

fn record(raw: &Value) -> Record {
    let change = &raw["dynamodb"];
    let sequence_number = change["SequenceNumber"].as_str().expect("a sequence number").to_owned();
    let is_outbox_insert = raw["eventName"] == "INSERT" && change["Keys"]["pk"]["S"] == OUTBOX_PARTITION;
    let outbox = is_outbox_insert.then(|| {
        let image = &change["NewImage"];
        let text = |name: &str| image[name]["S"].as_str().unwrap_or_else(|| panic!("no {name} in {image}")).to_owned();
        (text("id"), text("queue"), text("body"))
    });
    Record { sequence_number, outbox }
}

impl World {
    /// A case and two posts on it, each change committed with its outbox items.
    async fn changes(&self) {
        let admin = self.api.admin_token();
        let case = self.api.create(&admin, "/cases", json!({"subject": "Streamed"})).await;
        let path = format!("/cases/{}/stream", id_of(&case));
        self.api.create(&admin, &path, json!({"body": "first post"})).await;
        self.api.create(&admin, &path, json!({"body": "second post"})).await;
    }

    async fn raw_records(&self) -> Vec<Value> {
        self.streams.records(&self.stream).await
    }

    /// The ids of the items in the outbox, oldest first.
    async fn outbox_ids(&self) -> Vec<String> {
        let page = self.store.query(Query::table(CASES, OUTBOX_PARTITION).limit(1000)).await.expect("query the outbox");
        page.items.iter().map(|item| item["id"].as_str().expect("an id").to_owned()).collect()
    }

    async fn relay(&self, records: &[Value]) -> Value {
        self.handler.handle_event(json!({"Records": records})).await.expect("the stream batch is handled")
    }
}

/// The bodies of `queue`'s items among `records`, in stream order.
fn bodies_for(records: &[Record], queue: &str) -> Vec<String> {
    records.iter().filter_map(|r| r.outbox.as_ref()).filter(|(_, q, _)| q == queue).map(|(_, _, body)| body.clone()).collect()
}

/// Every message waiting on `queue`, removed, in the order received.
async fn drain(queue: &dyn Queue) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let deliveries = queue.receive(10, Duration::from_secs(60)).await.expect("receive");
        if deliveries.is_empty() {
            return bodies;
        }
        for delivery in deliveries {
            queue.ack(&delivery.receipt).await.expect("ack");
            bodies.push(delivery.body);
        }
    }
}

fn failures(response: &Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {response}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_else(|| panic!("no itemIdentifier in {f}")).to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_delivers_the_outbox_in_commit_order_and_empties_it() {
    // GIVEN changes committed by functions that leave delivery to the stream
    let world = world().await;
    world.changes().await;
    // THEN nothing was sent yet: every message is an item in the outbox
    assert!(drain(world.notify.as_ref()).await.is_empty(), "deferred delivery sends nothing itself");
    assert!(drain(world.assign.as_ref()).await.is_empty(), "deferred delivery sends nothing itself");
    let raw = world.raw_records().await;
    let records: Vec<Record> = raw.iter().map(record).collect();
    let inserted: Vec<String> = records.iter().filter_map(|r| r.outbox.as_ref().map(|(id, _, _)| id.clone())).collect();
    let mut waiting = world.outbox_ids().await;
    waiting.sort();
    let mut expected_waiting = inserted.clone();
    expected_waiting.sort();
    assert_eq!(waiting, expected_waiting, "the stream shows every outbox item the changes wrote");
    let (notifications, events) = (bodies_for(&records, "notify"), bodies_for(&records, "assign"));
    assert!(notifications.len() >= 2 && events.len() >= 3, "two posts notify, three changes are case events: {records:?}");
    assert!(records.iter().any(|r| r.outbox.is_none()), "the batch also holds the table's other writes");

    // WHEN the stream's batch is handed to the assign function
    let response = world.relay(&raw).await;

    // THEN every record is done, each queue holds its messages once, in commit order
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    assert_eq!(drain(world.notify.as_ref()).await, notifications);
    assert_eq!(drain(world.assign.as_ref()).await, events);
    // AND the outbox is empty
    assert_eq!(world.outbox_ids().await, Vec::<String>::new());
    // AND the removals this caused, which the stream reports next, send nothing again
    let removals = world.raw_records().await.split_off(raw.len());
    assert_eq!(removals.len(), inserted.len(), "one removal per relayed item");
    assert!(removals.iter().all(|r| r["eventName"] == "REMOVE"), "{removals:?}");
    assert_eq!(failures(&world.relay(&removals).await), Vec::<String>::new());
    assert!(drain(world.notify.as_ref()).await.is_empty());
    assert!(drain(world.assign.as_ref()).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notify_outage_holds_back_the_refused_record_and_every_later_one() {
    // GIVEN committed changes on the stream, and a notify queue that takes one message and then
    // goes down
    let world = world().await;
    world.changes().await;
    let raw = world.raw_records().await;
    let records: Vec<Record> = raw.iter().map(record).collect();
    world.notify_outage.accept(1);
    let notify_positions: Vec<usize> =
        records.iter().enumerate().filter(|(_, r)| r.outbox.as_ref().is_some_and(|(_, q, _)| q == "notify")).map(|(i, _)| i).collect();
    let refused = notify_positions[1];
    assert!(refused + 1 < records.len(), "records follow the refused one: {records:?}");
    let (before, after) = records.split_at(refused);

    // WHEN the batch is handed to the assign function
    let response = world.relay(&raw).await;

    // THEN the refused record and every record after it are reported, by sequence number
    let expected: Vec<String> = after.iter().map(|r| r.sequence_number.clone()).collect();
    assert_eq!(failures(&response), expected, "{response}");
    // AND only the messages before it were sent, in order: none overtook the refused one
    assert_eq!(drain(world.notify.as_ref()).await, bodies_for(before, "notify"));
    assert_eq!(drain(world.assign.as_ref()).await, bodies_for(before, "assign"));
    // AND the items of the reported records stay in the outbox; the sent ones are gone
    let mut kept: Vec<String> = after.iter().filter_map(|r| r.outbox.as_ref().map(|(id, _, _)| id.clone())).collect();
    kept.sort();
    assert!(!kept.is_empty());
    assert_eq!(world.outbox_ids().await, kept);

    // WHEN the queue is back and Lambda delivers the shard again from the lowest reported record
    world.notify_outage.accept(usize::MAX);
    let retried = world.relay(&raw[refused..]).await;

    // THEN the rest goes out, each message once and in order, and the outbox is empty
    assert_eq!(failures(&retried), Vec::<String>::new(), "{retried}");
    assert_eq!(drain(world.notify.as_ref()).await, bodies_for(after, "notify"));
    assert_eq!(drain(world.assign.as_ref()).await, bodies_for(after, "assign"));
    assert_eq!(world.outbox_ids().await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_down_from_the_start_reports_the_whole_batch() {
    // GIVEN committed changes on the stream and a notify queue that is down
    let world = world().await;
    world.changes().await;
    let raw = world.raw_records().await;
    let records: Vec<Record> = raw.iter().map(record).collect();
    world.notify_outage.accept(0);
    let first_notify = records.iter().position(|r| r.outbox.as_ref().is_some_and(|(_, q, _)| q == "notify")).expect("a notification");
    // WHEN the batch is handed to the assign function
    let response = world.relay(&raw).await;
    // THEN everything from the first notification on is reported, and nothing of it was sent
    let expected: Vec<String> = records[first_notify..].iter().map(|r| r.sequence_number.clone()).collect();
    assert_eq!(failures(&response), expected, "{response}");
    assert!(drain(world.notify.as_ref()).await.is_empty());
    assert_eq!(drain(world.assign.as_ref()).await, bodies_for(&records[..first_notify], "assign"));
    assert_eq!(world.outbox_ids().await.len(), records[first_notify..].iter().filter(|r| r.outbox.is_some()).count());
}

async fn the_sample_stream_event_is_relayed_in_order(engine: Engine) {
    // GIVEN the assign handler on fresh queues, and the stream sample of events/
    let (notify, assign) = (docket_e2e::queue(engine, 5).await, docket_e2e::assign_queue(engine, 5).await);
    let docket = docket_e2e::docket(engine)
        .await
        .with_notify_queue(notify.clone())
        .with_assign_queue(assign.clone())
        .with_outbox_delivery(OutboxDelivery::Deferred(None));
    let handler = AssignHandler { docket };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/dynamodb-outbox.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("the sample")).expect("JSON");
    let images: Vec<&Value> = event["Records"].as_array().expect("records").iter().map(|r| &r["dynamodb"]["NewImage"]).collect();
    let body = |image: &&Value| image["body"]["S"].as_str().expect("a body").to_owned();
    // WHEN the handler takes it
    let response = handler.handle_event(event.clone()).await.expect("a stream batch");
    // THEN every record is done and each queue holds the sample's messages in order
    assert_eq!(failures(&response), Vec::<String>::new(), "{response}");
    assert_eq!(drain(notify.as_ref()).await, images.iter().filter(|i| i["queue"]["S"] == "notify").map(body).collect::<Vec<_>>());
    assert_eq!(drain(assign.as_ref()).await, images.iter().filter(|i| i["queue"]["S"] == "assign").map(body).collect::<Vec<_>>());
    // AND a batch of another source is refused rather than taken for one of these
    let mut foreign = event;
    foreign["Records"][0]["eventSource"] = json!("aws:kinesis");
    assert!(handler.handle_event(foreign).await.is_err());
}
