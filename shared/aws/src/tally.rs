//! Counting what the SDK sends: an interceptor that tallies every attempt of every operation by
//! service and operation name (as the SDK itself names them), with the bytes sent and received
//! and, for DynamoDB, the request units AWS would bill for it on demand.
//!
//! Why compute the units here rather than ask DynamoDB: `ReturnConsumedCapacity` would have to be
//! set on every call of the adapter, and the emulator answers it with a constant rather than the
//! item sizes. The units below follow AWS's published rules from the items actually sent and
//! received (see [`write_units`] and [`read_units`]); the few a request alone cannot size (an
//! update or delete names only a key, and is billed on the stored item) are taken as one unit of
//! an item under 1 KB and reported apart, so the estimate says what it assumed.
//!
//! Used by `docket bench cost`; production clients carry no interceptor.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde_json::Value;

/// What one operation (say `DynamoDB/TransactWriteItems`) cost so far.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct OperationTally {
    /// Calls made by the code (one per `send()`).
    pub calls: u64,
    /// Requests on the wire: calls plus their retries. AWS bills these.
    pub attempts: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// DynamoDB write request units (on-demand), as the published rules give them.
    pub write_units: f64,
    /// DynamoDB read request units (on-demand).
    pub read_units: f64,
    /// Of `write_units`, those for updates, deletes and condition checks sized as one unit
    /// because the request names only a key.
    pub assumed_write_units: f64,
}

/// Every operation's tally, by (service, operation). Clones share the counts.
#[derive(Debug, Default, Clone)]
pub struct RequestTally {
    counts: Arc<Mutex<BTreeMap<(String, String), OperationTally>>>,
}

impl RequestTally {
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts so far, by (service, operation).
    pub fn snapshot(&self) -> BTreeMap<(String, String), OperationTally> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Forgets everything counted so far (a scenario starts from zero).
    pub fn reset(&self) {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner).clear();
    }

    fn add(&self, cfg: &ConfigBag, change: impl FnOnce(&mut OperationTally)) {
        let Some(metadata) = cfg.load::<Metadata>() else { return };
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        change(counts.entry((metadata.service().to_owned(), metadata.name().to_owned())).or_default());
    }

    /// Puts the tally on a DynamoDB client.
    pub fn dynamo(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().interceptor(self.clone()).build())
    }

    /// Puts the tally on an S3 client.
    pub fn s3(&self, client: &aws_sdk_s3::Client) -> aws_sdk_s3::Client {
        aws_sdk_s3::Client::from_conf(client.config().to_builder().interceptor(self.clone()).build())
    }

    /// Puts the tally on an SQS client.
    pub fn sqs(&self, client: &aws_sdk_sqs::Client) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::from_conf(client.config().to_builder().interceptor(self.clone()).build())
    }

    /// Puts the tally on an SES client.
    pub fn ses(&self, client: &aws_sdk_ses::Client) -> aws_sdk_ses::Client {
        aws_sdk_ses::Client::from_conf(client.config().to_builder().interceptor(self.clone()).build())
    }
}

/// What a DynamoDB request said that its response's units depend on, kept for the response.
#[derive(Debug, Clone, Copy)]
struct ReadRequest {
    consistent: bool,
    /// Keys a batch read asked for: each one missing still costs the minimum.
    keys: usize,
}

impl Storable for ReadRequest {
    type Storer = StoreReplace<Self>;
}

impl Intercept for RequestTally {
    fn name(&self) -> &'static str {
        "RequestTally"
    }

    // Once per call: the operation's metadata is in the bag from serialization on (not yet when
    // the execution starts).
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.add(cfg, |tally| tally.calls += 1);
        Ok(())
    }

    fn read_before_transmit(&self, context: &BeforeTransmitInterceptorContextRef<'_>, _rc: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let body = context.request().body().bytes().unwrap_or_default();
        let dynamo = cfg.load::<Metadata>().is_some_and(|m| m.service().eq_ignore_ascii_case("dynamodb"));
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
        let parsed = if dynamo { serde_json::from_slice::<Value>(body).ok() } else { None };
        let (units, assumed) = parsed.as_ref().map(|request| write_units(&operation, request)).unwrap_or_default();
        if let Some(request) = &parsed {
            cfg.interceptor_state().store_put(ReadRequest { consistent: consistent_read(request), keys: requested_keys(request) });
        }
        let sent = body.len() as u64;
        self.add(cfg, |tally| {
            tally.attempts += 1;
            tally.bytes_sent += sent;
            tally.write_units += units;
            tally.assumed_write_units += assumed;
        });
        Ok(())
    }

    fn read_after_attempt(&self, context: &FinalizerInterceptorContextRef<'_>, _rc: &RuntimeComponents, cfg: &mut ConfigBag) -> Result<(), BoxError> {
        let Some(response) = context.response() else { return Ok(()) };
        let body = response.body().bytes().unwrap_or_default();
        let received = body.len() as u64;
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_default();
        let units = match (cfg.load::<ReadRequest>(), response.status().is_success()) {
            (Some(request), true) => serde_json::from_slice::<Value>(body).map(|answer| read_units(&operation, *request, &answer)).unwrap_or(0.0),
            _ => 0.0,
        };
        self.add(cfg, |tally| {
            tally.bytes_received += received;
            tally.read_units += units;
        });
        Ok(())
    }
}

/// One on-demand write request unit covers a write of up to 1 KB.
const WRITE_UNIT_BYTES: usize = 1024;
/// One read request unit covers a strongly consistent read of up to 4 KB (two eventually
/// consistent ones).
const READ_UNIT_BYTES: usize = 4096;

fn units_of(bytes: usize, unit: usize) -> f64 {
    bytes.div_ceil(unit).max(1) as f64
}

/// The write units of a DynamoDB request, and how many of them were assumed (an update, delete or
/// condition check is billed on the stored item, which the request does not carry: one unit).
/// Transactions cost twice.
fn write_units(operation: &str, request: &Value) -> (f64, f64) {
    let item_units = |item: &Value| units_of(item_size(item), WRITE_UNIT_BYTES);
    match operation {
        "PutItem" => (request.get("Item").map_or(1.0, item_units), 0.0),
        "UpdateItem" | "DeleteItem" => (1.0, 1.0),
        "BatchWriteItem" => {
            let (mut units, mut assumed) = (0.0, 0.0);
            for writes in request.get("RequestItems").and_then(Value::as_object).into_iter().flat_map(|tables| tables.values()) {
                for write in writes.as_array().into_iter().flatten() {
                    match write.pointer("/PutRequest/Item") {
                        Some(item) => units += item_units(item),
                        None => {
                            units += 1.0;
                            assumed += 1.0;
                        }
                    }
                }
            }
            (units, assumed)
        }
        "TransactWriteItems" => {
            let (mut units, mut assumed) = (0.0, 0.0);
            for action in request.get("TransactItems").and_then(Value::as_array).into_iter().flatten() {
                match action.pointer("/Put/Item") {
                    Some(item) => units += 2.0 * item_units(item),
                    None => {
                        units += 2.0;
                        assumed += 2.0;
                    }
                }
            }
            (units, assumed)
        }
        _ => (0.0, 0.0),
    }
}

/// The read units a DynamoDB response says were read: items are sized one by one for a get and
/// a batch get (a key found missing costs the minimum), together for a query page; an eventually
/// consistent read costs half.
fn read_units(operation: &str, request: ReadRequest, answer: &Value) -> f64 {
    let factor = if request.consistent { 1.0 } else { 0.5 };
    let units = match operation {
        "GetItem" => answer.get("Item").map_or(1.0, |item| units_of(item_size(item), READ_UNIT_BYTES)),
        "Query" | "Scan" => {
            let bytes: usize = answer.get("Items").and_then(Value::as_array).into_iter().flatten().map(item_size).sum();
            units_of(bytes, READ_UNIT_BYTES)
        }
        "BatchGetItem" => {
            let found: Vec<&Value> = answer
                .get("Responses")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|tables| tables.values())
                .filter_map(Value::as_array)
                .flatten()
                .collect();
            let units: f64 = found.iter().map(|item| units_of(item_size(item), READ_UNIT_BYTES)).sum();
            units + request.keys.saturating_sub(found.len()) as f64
        }
        "TransactGetItems" => {
            2.0 * answer
                .get("Responses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|r| r.get("Item").map_or(1.0, |i| units_of(item_size(i), READ_UNIT_BYTES)))
                .sum::<f64>()
        }
        _ => 0.0,
    };
    units * factor
}

fn consistent_read(request: &Value) -> bool {
    if request.get("ConsistentRead").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    // A batch read says it per table.
    request
        .get("RequestItems")
        .and_then(Value::as_object)
        .is_some_and(|tables| tables.values().any(|t| t.get("ConsistentRead").and_then(Value::as_bool) == Some(true)))
}

fn requested_keys(request: &Value) -> usize {
    request
        .get("RequestItems")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|tables| tables.values())
        .filter_map(|t| t.get("Keys").and_then(Value::as_array))
        .map(Vec::len)
        .sum()
}

/// An item's size as DynamoDB counts it: each attribute's name in UTF-8 plus its value.
fn item_size(item: &Value) -> usize {
    item.as_object().map_or(0, |attributes| attributes.iter().map(|(name, value)| name.len() + value_size(value)).sum())
}

/// A value's size by DynamoDB's rules (wire form `{"S": ...}`): strings their UTF-8 bytes,
/// binaries their decoded bytes, numbers about one byte per two digits plus one, booleans and
/// nulls one byte, maps and lists three bytes plus their contents (one more per list element).
fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|o| o.iter().next()) else { return 0 };
    let text = || inner.as_str().unwrap_or_default();
    match kind.as_str() {
        "S" => text().len(),
        "N" => number_size(text()),
        "B" => text().len() / 4 * 3,
        "BOOL" | "NULL" => 1,
        "SS" => inner.as_array().into_iter().flatten().map(|s| s.as_str().unwrap_or_default().len()).sum(),
        "NS" => inner.as_array().into_iter().flatten().map(|s| number_size(s.as_str().unwrap_or_default())).sum(),
        "BS" => inner.as_array().into_iter().flatten().map(|s| s.as_str().unwrap_or_default().len() / 4 * 3).sum(),
        "M" => 3 + item_size(inner),
        "L" => 3 + inner.as_array().into_iter().flatten().map(|v| 1 + value_size(v)).sum::<usize>(),
        _ => 0,
    }
}

fn number_size(number: &str) -> usize {
    let digits = number.chars().filter(char::is_ascii_digit).count();
    digits.div_ceil(2) + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn items_are_sized_by_dynamodbs_rules() {
        assert_eq!(item_size(&json!({"pk": {"S": "CASE#1"}})), 2 + 6);
        assert_eq!(item_size(&json!({"n": {"N": "12345"}})), 1 + 4);
        assert_eq!(item_size(&json!({"b": {"BOOL": true}, "z": {"NULL": true}})), 2 + 2);
        assert_eq!(item_size(&json!({"m": {"M": {"a": {"S": "xy"}}}})), 1 + 3 + 1 + 2);
        assert_eq!(item_size(&json!({"l": {"L": [{"S": "a"}, {"S": "bc"}]}})), 1 + 3 + 2 + 3);
        assert_eq!(item_size(&json!({"bin": {"B": "AAAA"}})), 3 + 3);
    }

    #[test]
    fn writes_cost_a_unit_a_kilobyte_and_twice_in_a_transaction() {
        let small = json!({"pk": {"S": "x"}});
        let big = json!({"pk": {"S": "x".repeat(2000)}});
        assert_eq!(write_units("PutItem", &json!({"Item": small})), (1.0, 0.0));
        assert_eq!(write_units("PutItem", &json!({"Item": big})), (2.0, 0.0));
        let transaction = json!({"TransactItems": [{"Put": {"Item": big}}, {"Delete": {"Key": small}}, {"ConditionCheck": {"Key": small}}]});
        assert_eq!(write_units("TransactWriteItems", &transaction), (4.0 + 2.0 + 2.0, 4.0));
        assert_eq!(write_units("UpdateItem", &json!({})), (1.0, 1.0));
        assert_eq!(write_units("GetItem", &json!({})), (0.0, 0.0));
    }

    #[test]
    fn reads_cost_a_unit_per_4_kb_half_when_eventually_consistent() {
        let strong = ReadRequest { consistent: true, keys: 0 };
        let eventual = ReadRequest { consistent: false, keys: 0 };
        let item = |bytes: usize| json!({"v": {"S": "x".repeat(bytes)}});
        assert_eq!(read_units("GetItem", strong, &json!({"Item": item(5000)})), 2.0);
        assert_eq!(read_units("GetItem", strong, &json!({})), 1.0, "a miss costs the minimum");
        // A query page is sized as a whole: 3 items of 2 KB are 6 KB, two units, half of that.
        assert_eq!(read_units("Query", eventual, &json!({"Items": [item(2000), item(2000), item(2000)]})), 1.0);
        let batch = json!({"Responses": {"t": [item(10), item(5000)]}});
        assert_eq!(read_units("BatchGetItem", ReadRequest { consistent: true, keys: 3 }, &batch), 1.0 + 2.0 + 1.0);
    }

    #[test]
    fn requests_say_how_they_read() {
        assert!(consistent_read(&json!({"ConsistentRead": true})));
        assert!(!consistent_read(&json!({"TableName": "t"})));
        let batch = json!({"RequestItems": {"t": {"Keys": [{}, {}], "ConsistentRead": true}}});
        assert!(consistent_read(&batch));
        assert_eq!(requested_keys(&batch), 2);
    }
}
