//! The DynamoDB engine of the item-store port.
//!
//! Each logical table is one DynamoDB table named `{prefix}{name}`, keyed by `pk` (HASH) and `sk`
//! (RANGE), and each of its secondary indexes a GSI of the same name. The SQLite engine is held to
//! the same conformance suite, so the port's documented semantics win wherever DynamoDB would
//! refuse a request the port allows (empty strings in key conditions, an inverted BETWEEN, an
//! update touching one attribute twice, an empty update): such requests are reshaped here into
//! ones that mean the same thing, rather than letting the difference leak to the callers.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection,
    ProjectionType, Put, ReturnValue, ScalarAttributeType, TransactWriteItem, Update as UpdateAction,
};
use docket_store::{
    CancelReason, Condition, Cursor, Item, ItemStore, Key, PK, Page, Query, SK, SortKeyRange, StoreError, TableSpec, Update, WriteOp, index_key_type,
    is_storable, open_cursor, seal_cursor, validate_index_keys, validate_item, validate_key, validate_query, validate_transaction,
};
use serde_json::Value;

use crate::errors::{self, Service};

/// The attributes of one item as the SDK carries them.
type Attributes = HashMap<String, AttributeValue>;

/// Most keys one `BatchGetItem` call may carry.
const MAX_BATCH_GET: usize = 100;

/// How many times keys a `BatchGetItem` left unprocessed (throttling) are asked for again, with
/// a doubling pause from [`BATCH_GET_BACKOFF`], before the read fails as transient.
const BATCH_GET_RETRIES: u32 = 8;
const BATCH_GET_BACKOFF: Duration = Duration::from_millis(20);

/// How long `create_tables` waits for a new table to become usable.
const TABLE_READY_WAIT: Duration = Duration::from_secs(120);

/// Attribute named by the update expression of an otherwise empty update. DynamoDB refuses an empty
/// expression, yet the port says an empty update still creates the item; removing an attribute
/// nobody writes is a no-op that keeps UpdateItem's create-if-absent behaviour.
const NEVER_WRITTEN_ATTRIBUTE: &str = "__docket_never_written";

/// Cancellation reasons that say "try again" rather than "refused".
const RETRYABLE_CANCELLATIONS: [&str; 3] = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"];

/// Error codes of the service worth retrying: the SDK has already retried them, but a caller
/// (a queue consumer, a client) may still try later.
const TRANSIENT_ERROR_CODES: [&str; 8] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
    "Throttling",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

const DYNAMODB: Service = Service { name: "DynamoDB", transient_codes: &TRANSIENT_ERROR_CODES };

/// Puts a prepared write's [`Target`] (table, condition, placeholder maps) on a request builder.
/// The SDK has one builder per kind of write, alone or in a transaction, with these setters alike
/// but no common trait; setting all four in one place keeps any request from losing the
/// placeholders its expressions use.
macro_rules! targeting {
    ($builder:expr, $target:expr) => {{
        let Target { table, condition, names, values } = $target;
        $builder.table_name(table).set_condition_expression(condition).set_expression_attribute_names(names).set_expression_attribute_values(values)
    }};
}

/// [`ItemStore`] on DynamoDB. Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoItemStore {
    client: Client,
    table_prefix: String,
    tables: Vec<TableSpec>,
}

impl DynamoItemStore {
    /// `table_prefix` separates deployments (and test runs) sharing one account; `tables` are the
    /// only logical tables this store accepts.
    pub fn new(client: Client, table_prefix: impl Into<String>, tables: Vec<TableSpec>) -> Self {
        Self { client, table_prefix: table_prefix.into(), tables }
    }

    /// Creates every declared table that does not exist yet (on demand billing) and waits until
    /// each one is active. Tables that already exist are left as they are, so this can run at
    /// every start of a local setup or test.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        for spec in &self.tables {
            let table = self.physical_name(spec.name);
            let created = self
                .client
                .create_table()
                .table_name(&table)
                .set_attribute_definitions(Some(attribute_definitions(spec)?))
                .key_schema(key_element(PK, KeyType::Hash)?)
                .key_schema(key_element(SK, KeyType::Range)?)
                .set_global_secondary_indexes(global_secondary_indexes(spec)?)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            match created {
                Ok(_) => tracing::info!(table = %table, "created DynamoDB table"),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
                Err(error) => return Err(classify(error)),
            }
            self.client
                .wait_until_table_exists()
                .table_name(&table)
                .wait(TABLE_READY_WAIT)
                .await
                .map_err(|error| StoreError::Backend(format!("table {table} did not become active: {}", DisplayErrorContext(&error))))?;
        }
        Ok(())
    }

    fn physical_name(&self, logical: &str) -> String {
        format!("{}{logical}", self.table_prefix)
    }

    fn spec(&self, table: &str) -> Result<&TableSpec, StoreError> {
        self.tables.iter().find(|spec| spec.name == table).ok_or_else(|| StoreError::Validation(format!("unknown table {table}")))
    }

    /// The physical name of a declared table; undeclared ones are refused as the SQLite engine does.
    fn table_name(&self, table: &str) -> Result<String, StoreError> {
        Ok(self.physical_name(self.spec(table)?.name))
    }

    /// Translates a write into expressions and attribute maps, shared by single writes and
    /// transactions so that both give a condition the same meaning.
    fn prepare(&self, op: &WriteOp) -> Result<PreparedWrite, StoreError> {
        let spec = self.spec(op.table())?;
        let mut placeholders = Placeholders::default();
        let (action, condition) = match op {
            WriteOp::Put { item, condition, .. } => {
                validate_item(item)?;
                validate_index_keys(spec, item)?;
                let condition = optional_condition(condition.as_ref(), &mut placeholders)?;
                (Action::Put(item_to_attributes(item)?), condition)
            }
            WriteOp::Delete { key, condition, .. } => {
                validate_key(key)?;
                let condition = optional_condition(condition.as_ref(), &mut placeholders)?;
                (Action::Delete(key_attributes(key)), condition)
            }
            WriteOp::Check { key, condition, .. } => {
                validate_key(key)?;
                // ConditionCheck insists on an expression even when the condition always holds.
                let condition = optional_condition(Some(condition), &mut placeholders)?.unwrap_or_else(|| always_true(&mut placeholders));
                (Action::Check(key_attributes(key)), Some(condition))
            }
            WriteOp::Update { key, update, condition, .. } => {
                validate_key(key)?;
                require_string_index_updates(spec, update)?;
                let condition = optional_condition(condition.as_ref(), &mut placeholders)?;
                let expression = update_expression(update, &mut placeholders)?;
                (Action::Update { key: key_attributes(key), expression }, condition)
            }
        };
        let (names, values) = placeholders.into_maps();
        Ok(PreparedWrite { action, target: Target { table: self.physical_name(spec.name), condition, names, values } })
    }
}

#[async_trait]
impl ItemStore for DynamoItemStore {
    async fn get(&self, table: &str, key: &Key) -> Result<Option<Item>, StoreError> {
        let table = self.table_name(table)?;
        // DynamoDB refuses empty key strings, but no item can be stored under one: simply absent.
        if !is_storable(key) {
            return Ok(None);
        }
        let output = self.client.get_item().table_name(table).set_key(Some(key_attributes(key))).consistent_read(true).send().await.map_err(classify)?;
        output.item.map(item_from_attributes).transpose()
    }

    async fn get_many(&self, table: &str, keys: &[Key]) -> Result<Vec<Option<Item>>, StoreError> {
        let table = self.table_name(table)?;
        // BatchGetItem refuses a key twice in one call and empty key strings: ask for each
        // distinct addressable key once, and answer every position from what came back.
        let mut wanted: Vec<&Key> = keys.iter().filter(|k| !k.pk.is_empty() && !k.sk.is_empty()).collect();
        wanted.sort();
        wanted.dedup();
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(wanted.len());
        for chunk in wanted.chunks(MAX_BATCH_GET) {
            let mut pending: Vec<Attributes> = chunk.iter().map(|k| key_attributes(k)).collect();
            let mut tries = 0;
            while !pending.is_empty() {
                if tries > BATCH_GET_RETRIES {
                    return Err(StoreError::Transient(format!("BatchGetItem left {} keys unprocessed", pending.len())));
                }
                if tries > 0 {
                    tokio::time::sleep(BATCH_GET_BACKOFF * 2u32.pow(tries - 1)).await;
                }
                tries += 1;
                let request = KeysAndAttributes::builder().set_keys(Some(std::mem::take(&mut pending))).consistent_read(true).build().map_err(build_failure)?;
                let output = self.client.batch_get_item().request_items(&table, request).send().await.map_err(classify)?;
                for attributes in output.responses.and_then(|mut r| r.remove(&table)).unwrap_or_default() {
                    let item = item_from_attributes(attributes)?;
                    let key = Key::of(&item).ok_or_else(|| StoreError::Backend("BatchGetItem returned an item without its keys".into()))?;
                    found.insert(key, item);
                }
                pending = output.unprocessed_keys.and_then(|mut u| u.remove(&table)).map(|k| k.keys).unwrap_or_default();
            }
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn write(&self, op: WriteOp) -> Result<(), StoreError> {
        if let WriteOp::Check { table, key, condition } = &op {
            validate_key(key)?;
            // A check writes nothing, so a consistent read judged by the port's own rules is as
            // good as a one-item transaction, at half the cost.
            let current = self.get(table, key).await?;
            return if condition.holds(current.as_ref()) { Ok(()) } else { Err(StoreError::ConditionFailed) };
        }
        let PreparedWrite { action, target } = self.prepare(&op)?;
        match action {
            Action::Put(item) => targeting!(self.client.put_item(), target).set_item(Some(item)).send().await.map(drop).map_err(classify),
            Action::Delete(key) => targeting!(self.client.delete_item(), target).set_key(Some(key)).send().await.map(drop).map_err(classify),
            Action::Update { key, expression } => {
                targeting!(self.client.update_item(), target).set_key(Some(key)).update_expression(expression).send().await.map(drop).map_err(classify)
            }
            Action::Check(_) => Err(StoreError::Backend("a lone check is answered by a read".into())),
        }
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let items = ops.iter().map(|op| self.prepare(op).and_then(PreparedWrite::into_transact_item)).collect::<Result<Vec<_>, _>>()?;
        let sent = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match sent {
            Ok(_) => Ok(()),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = error.as_service_error() {
                    return Err(cancellation(cancelled));
                }
                Err(classify(error))
            }
        }
    }

    async fn increment(&self, table: &str, key: &Key, attribute: &str, by: i64) -> Result<i64, StoreError> {
        validate_key(key)?;
        let spec = self.spec(table)?;
        // Adding makes a number, which no index key attribute may hold.
        if let Some(index) = index_keyed_by(spec, attribute) {
            return Err(index_key_type(index, attribute));
        }
        let table = self.physical_name(spec.name);
        let mut placeholders = Placeholders::default();
        let expression = format!("ADD {} {}", placeholders.name(attribute), placeholders.value(AttributeValue::N(by.to_string())));
        let (names, values) = placeholders.into_maps();
        let output = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(key_attributes(key)))
            .update_expression(expression)
            .set_expression_attribute_names(names)
            .set_expression_attribute_values(values)
            // Not UPDATED_NEW: emulators leave out an attribute that `by == 0` did not change.
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        match output.attributes.as_ref().and_then(|attributes| attributes.get(attribute)) {
            // DynamoDB numbers hold fractions and 38 digits; the port's counters are i64.
            Some(AttributeValue::N(number)) => {
                number.parse::<i64>().map_err(|_| StoreError::Validation(format!("attribute {attribute} is not an i64: {number}")))
            }
            _ => Err(StoreError::Backend(format!("UpdateItem returned no number for {attribute}"))),
        }
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        let reachable = validate_query(&query)?;
        let spec = self.spec(&query.table)?;
        let shape = match &query.index {
            None => KeyShape { index: None, partition: PK, sort: SK },
            Some(name) => {
                let index = spec.index(name).ok_or_else(|| StoreError::Validation(format!("table {} has no index {name}", query.table)))?;
                KeyShape { index: Some(index.name), partition: index.partition_attribute, sort: index.sort_attribute }
            }
        };
        let mut start_key = query.after.as_ref().map(|cursor| shape.start_key(cursor, &query)).transpose()?;
        // No stored key is empty, so these queries find nothing; DynamoDB would refuse them.
        let Some(range) = reachable_range(&query.range).filter(|_| reachable) else {
            return Ok(Page::default());
        };

        let mut placeholders = Placeholders::default();
        let mut key_condition = format!("{} = {}", placeholders.name(shape.partition), placeholders.value(AttributeValue::S(query.partition.clone())));
        if let Some(sort_condition) = sort_key_condition(&range, shape.sort, &mut placeholders) {
            key_condition = format!("{key_condition} AND {sort_condition}");
        }
        let (names, values) = placeholders.into_maps();
        let table = self.physical_name(spec.name);

        let mut items = Vec::new();
        // The key attributes of the last item read, for a full page that DynamoDB ends without a
        // LastEvaluatedKey (see below).
        let mut page_end: Option<Attributes> = None;
        // DynamoDB also ends a page at 1 MB; keep reading so a page is short only at the end.
        loop {
            let remaining = i32::try_from(query.limit - items.len()).map_err(|_| StoreError::Validation("query limit too large".into()))?;
            let output = self
                .client
                .query()
                .table_name(&table)
                .set_index_name(shape.index.map(str::to_owned))
                .key_condition_expression(&key_condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(values.clone())
                .scan_index_forward(query.ascending)
                .limit(remaining)
                .set_exclusive_start_key(start_key.take())
                .send()
                .await
                .map_err(classify)?;
            let read = output.items.unwrap_or_default();
            if let Some(last) = read.last() {
                page_end = Some(shape.key_of(last));
            }
            for attributes in read {
                items.push(item_from_attributes(attributes)?);
            }
            match output.last_evaluated_key.filter(|key| !key.is_empty()) {
                // The port sets `next` whenever a page is full. DynamoDB returns a
                // LastEvaluatedKey whenever Limit stops it, but emulators leave it out when the
                // limit falls on the partition's last item; the last item's key says the same.
                None if items.len() >= query.limit => {
                    let next = match &page_end {
                        Some(end) => Some(encode_cursor(&query, end)?),
                        None => None,
                    };
                    return Ok(Page { items, next });
                }
                None => return Ok(Page { items, next: None }),
                Some(last) if items.len() >= query.limit => {
                    return Ok(Page { items, next: Some(encode_cursor(&query, &last)?) });
                }
                Some(last) => start_key = Some(last),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writes

/// A write turned into what the SDK sends, before it is sent alone or inside a transaction.
struct PreparedWrite {
    action: Action,
    target: Target,
}

/// What every request of a write carries besides its action: the table, and the condition with
/// the placeholders of all its expressions.
struct Target {
    table: String,
    condition: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attributes>,
}

enum Action {
    Put(Attributes),
    Delete(Attributes),
    Check(Attributes),
    Update { key: Attributes, expression: String },
}

impl PreparedWrite {
    fn into_transact_item(self) -> Result<TransactWriteItem, StoreError> {
        let PreparedWrite { action, target } = self;
        let item = TransactWriteItem::builder();
        let item = match action {
            Action::Put(attributes) => item.put(targeting!(Put::builder(), target).set_item(Some(attributes)).build().map_err(build_failure)?),
            Action::Delete(key) => item.delete(targeting!(Delete::builder(), target).set_key(Some(key)).build().map_err(build_failure)?),
            Action::Check(key) => item.condition_check(targeting!(ConditionCheck::builder(), target).set_key(Some(key)).build().map_err(build_failure)?),
            Action::Update { key, expression } => {
                item.update(targeting!(UpdateAction::builder(), target).set_key(Some(key)).update_expression(expression).build().map_err(build_failure)?)
            }
        };
        Ok(item.build())
    }
}

/// The same rule for an update: an index key attribute may only be set to a string or removed.
fn require_string_index_updates(spec: &TableSpec, update: &Update) -> Result<(), StoreError> {
    for (name, change) in net_changes(update)? {
        let Some(index) = index_keyed_by(spec, name) else {
            continue;
        };
        match change {
            NetChange::Set(Value::String(_)) | NetChange::Remove => {}
            NetChange::Set(_) | NetChange::Add(_) => return Err(index_key_type(index, name)),
        }
    }
    Ok(())
}

/// The index keyed by the attribute, if any.
fn index_keyed_by(spec: &TableSpec, attribute: &str) -> Option<&'static str> {
    spec.indexes.iter().find(|index| index.partition_attribute == attribute || index.sort_attribute == attribute).map(|index| index.name)
}

/// What one attribute ends up as once all of an update's changes are applied in the port's order
/// (every set, then every remove, then every add).
enum NetChange {
    Set(Value),
    Remove,
    Add(i64),
}

/// Folds an update into at most one change per attribute. DynamoDB refuses an expression that
/// touches one attribute twice ("overlapping paths"), while [`Update::apply`] defines exactly what
/// such an update means; folding first gives DynamoDB the same result in a form it accepts.
fn net_changes(update: &Update) -> Result<Vec<(&str, NetChange)>, StoreError> {
    fn slot(changes: &[(&str, NetChange)], name: &str) -> Option<usize> {
        changes.iter().position(|(existing, _)| *existing == name)
    }
    let mut changes: Vec<(&str, NetChange)> = Vec::new();
    for (name, value) in &update.set {
        let change = NetChange::Set(value.clone());
        match slot(&changes, name) {
            Some(index) => changes[index].1 = change,
            None => changes.push((name, change)),
        }
    }
    for name in &update.remove {
        match slot(&changes, name) {
            Some(index) => changes[index].1 = NetChange::Remove,
            None => changes.push((name, NetChange::Remove)),
        }
    }
    for (name, by) in &update.add {
        let overflow = || StoreError::Validation(format!("attribute {name} overflows"));
        let Some(index) = slot(&changes, name) else {
            changes.push((name, NetChange::Add(*by)));
            continue;
        };
        let folded = match &changes[index].1 {
            NetChange::Set(value) => {
                let current = value.as_i64().ok_or_else(|| StoreError::Validation(format!("attribute {name} is not an integer")))?;
                NetChange::Set(Value::from(current.checked_add(*by).ok_or_else(overflow)?))
            }
            // Removed then added: the attribute starts again from 0.
            NetChange::Remove => NetChange::Set(Value::from(*by)),
            NetChange::Add(earlier) => NetChange::Add(earlier.checked_add(*by).ok_or_else(overflow)?),
        };
        changes[index].1 = folded;
    }
    Ok(changes)
}

/// `SET #a = :a, … REMOVE #r, … ADD #n :n, …` with only the clauses that have something to do.
fn update_expression(update: &Update, placeholders: &mut Placeholders) -> Result<String, StoreError> {
    let mut sets = Vec::new();
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    for (name, change) in net_changes(update)? {
        match change {
            NetChange::Set(value) => {
                let name = placeholders.name(name);
                sets.push(format!("{name} = {}", placeholders.value(value_to_attribute(&value)?)));
            }
            NetChange::Remove => removes.push(placeholders.name(name)),
            NetChange::Add(by) => {
                let name = placeholders.name(name);
                adds.push(format!("{name} {}", placeholders.value(AttributeValue::N(by.to_string()))));
            }
        }
    }
    if sets.is_empty() && removes.is_empty() && adds.is_empty() {
        removes.push(placeholders.name(NEVER_WRITTEN_ATTRIBUTE));
    }
    let clauses = [("SET", sets), ("REMOVE", removes), ("ADD", adds)];
    Ok(clauses
        .into_iter()
        .filter(|(_, parts)| !parts.is_empty())
        .map(|(keyword, parts)| format!("{keyword} {}", parts.join(", ")))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Reads a cancelled transaction's reasons, one per operation in the order they were given.
fn cancellation(cancelled: &TransactionCanceledException) -> StoreError {
    let mut codes: Vec<String> = cancelled.cancellation_reasons().iter().map(|reason| reason.code().unwrap_or("None").to_owned()).collect();
    if codes.is_empty() {
        // Some emulators only list the reasons in the message: "... reasons [None, ConditionalCheckFailed]".
        codes = reasons_from_message(cancelled.message().unwrap_or_default());
    }
    let condition_failed = codes.iter().any(|code| code == "ConditionalCheckFailed");
    if !condition_failed && codes.iter().any(|code| RETRYABLE_CANCELLATIONS.contains(&code.as_str())) {
        return StoreError::Transient(format!("transaction cancelled: {}", codes.join(", ")));
    }
    let reasons = codes
        .into_iter()
        .map(|code| match code.as_str() {
            "None" => CancelReason::None,
            "ConditionalCheckFailed" => CancelReason::ConditionFailed,
            _ => CancelReason::Other(code),
        })
        .collect();
    StoreError::TransactionCancelled { reasons }
}

fn reasons_from_message(message: &str) -> Vec<String> {
    let Some(open) = message.rfind('[') else {
        return Vec::new();
    };
    let Some(close) = message[open..].find(']') else {
        return Vec::new();
    };
    message[open + 1..open + close].split(',').map(|code| code.trim().to_owned()).filter(|code| !code.is_empty()).collect()
}

// ---------------------------------------------------------------------------------------------
// Conditions

/// Expression placeholders of one request. A single counter serves the condition and the update
/// (or key condition) alike, so their placeholders can never collide.
#[derive(Default)]
struct Placeholders {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Placeholders {
    fn name(&mut self, attribute: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    /// DynamoDB refuses empty placeholder maps, so empty ones are left out of the request.
    fn into_maps(self) -> (Option<HashMap<String, String>>, Option<Attributes>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

/// A condition with its constant parts folded away. An empty `And` always holds and an empty `Or`
/// never does, which DynamoDB's expression language cannot say; folding first also means that no
/// placeholder is made for a part that is dropped (DynamoDB refuses unused placeholders).
enum Folded<'c> {
    Always,
    Never,
    Test(&'c Condition),
    All(Vec<Folded<'c>>),
    Any(Vec<Folded<'c>>),
}

fn fold(condition: &Condition) -> Folded<'_> {
    match condition {
        Condition::And(parts) => {
            let mut kept = Vec::new();
            for part in parts {
                match fold(part) {
                    Folded::Always => {}
                    Folded::Never => return Folded::Never,
                    other => kept.push(other),
                }
            }
            match kept.len() {
                0 => Folded::Always,
                1 => kept.pop().unwrap_or(Folded::Always),
                _ => Folded::All(kept),
            }
        }
        Condition::Or(parts) => {
            let mut kept = Vec::new();
            for part in parts {
                match fold(part) {
                    Folded::Never => {}
                    Folded::Always => return Folded::Always,
                    other => kept.push(other),
                }
            }
            match kept.len() {
                0 => Folded::Never,
                1 => kept.pop().unwrap_or(Folded::Never),
                _ => Folded::Any(kept),
            }
        }
        test => Folded::Test(test),
    }
}

/// The ConditionExpression of a write, `None` when the write is unconditional in effect.
fn optional_condition(condition: Option<&Condition>, placeholders: &mut Placeholders) -> Result<Option<String>, StoreError> {
    match condition.map(fold) {
        None | Some(Folded::Always) => Ok(None),
        Some(folded) => render(&folded, placeholders).map(Some),
    }
}

fn always_true(placeholders: &mut Placeholders) -> String {
    let pk = placeholders.name(PK);
    format!("attribute_exists({pk}) OR attribute_not_exists({pk})")
}

fn always_false(placeholders: &mut Placeholders) -> String {
    let pk = placeholders.name(PK);
    format!("attribute_exists({pk}) AND attribute_not_exists({pk})")
}

fn render(folded: &Folded<'_>, placeholders: &mut Placeholders) -> Result<String, StoreError> {
    let joined = |parts: &[Folded<'_>], operator: &str, placeholders: &mut Placeholders| {
        parts
            .iter()
            .map(|part| render(part, placeholders).map(|expression| format!("({expression})")))
            .collect::<Result<Vec<_>, _>>()
            .map(|parts| parts.join(operator))
    };
    match folded {
        Folded::Always => Ok(always_true(placeholders)),
        Folded::Never => Ok(always_false(placeholders)),
        Folded::All(parts) => joined(parts, " AND ", placeholders),
        Folded::Any(parts) => joined(parts, " OR ", placeholders),
        Folded::Test(test) => Ok(match test {
            // The key attribute exists exactly when the item does.
            Condition::Exists => format!("attribute_exists({})", placeholders.name(PK)),
            Condition::NotExists => format!("attribute_not_exists({})", placeholders.name(PK)),
            Condition::AttributeExists(name) => {
                format!("attribute_exists({})", placeholders.name(name))
            }
            Condition::AttributeNotExists(name) => {
                format!("attribute_not_exists({})", placeholders.name(name))
            }
            Condition::Equals(name, value) => {
                let name = placeholders.name(name);
                format!("{name} = {}", placeholders.value(value_to_attribute(value)?))
            }
            Condition::And(_) | Condition::Or(_) => render(&fold(test), placeholders)?,
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Queries and cursors

/// The key attributes a query reads and its cursor carries.
struct KeyShape {
    index: Option<&'static str>,
    partition: &'static str,
    sort: &'static str,
}

impl KeyShape {
    /// The attributes of an item that a LastEvaluatedKey of this query holds: the table's key and,
    /// on an index, the index's key.
    fn key_of(&self, attributes: &Attributes) -> Attributes {
        [PK, SK, self.partition, self.sort].into_iter().filter_map(|name| attributes.get(name).map(|value| (name.to_owned(), value.clone()))).collect()
    }

    /// Decodes a cursor into an ExclusiveStartKey, refusing one that belongs to another query (the
    /// port's binding) or whose key does not lie in this query's partition and range (a cursor
    /// written by hand): DynamoDB would answer those with a ValidationException.
    fn start_key(&self, cursor: &Cursor, query: &Query) -> Result<Attributes, StoreError> {
        let key: BTreeMap<String, String> = open_cursor(query, cursor)?;
        let mut expected = vec![PK, SK, self.partition, self.sort];
        expected.sort_unstable();
        expected.dedup();
        let names_match = key.len() == expected.len() && expected.iter().all(|name| key.contains_key(*name));
        let in_partition = key.get(self.partition).is_some_and(|value| *value == query.partition);
        let in_range = key.get(self.sort).is_some_and(|value| query.range.contains(value));
        if !(names_match && in_partition && in_range) {
            return Err(StoreError::InvalidCursor);
        }
        Ok(key.into_iter().map(|(name, value)| (name, AttributeValue::S(value))).collect())
    }
}

fn encode_cursor(query: &Query, last_evaluated_key: &Attributes) -> Result<Cursor, StoreError> {
    let mut key = BTreeMap::new();
    for (name, value) in last_evaluated_key {
        match value {
            AttributeValue::S(text) => key.insert(name.as_str(), text.as_str()),
            _ => {
                return Err(StoreError::Backend(format!("key attribute {name} of a page end is not a string")));
            }
        };
    }
    seal_cursor(query, key)
}

/// The range as DynamoDB can be asked for it, or `None` when it cannot match a stored sort key
/// (they are never empty) and so the query finds nothing. DynamoDB refuses empty strings in key
/// conditions and an inverted BETWEEN, where the port simply finds nothing.
fn reachable_range(range: &SortKeyRange) -> Option<SortKeyRange> {
    match range {
        SortKeyRange::Equals(value) if value.is_empty() => None,
        SortKeyRange::BeginsWith(prefix) if prefix.is_empty() => Some(SortKeyRange::All),
        SortKeyRange::Between(low, high) if low > high || high.is_empty() => None,
        SortKeyRange::Between(low, high) if low.is_empty() => Some(SortKeyRange::AtMost(high.clone())),
        SortKeyRange::AtLeast(low) if low.is_empty() => Some(SortKeyRange::All),
        SortKeyRange::AtMost(high) if high.is_empty() => None,
        other => Some(other.clone()),
    }
}

fn sort_key_condition(range: &SortKeyRange, attribute: &str, placeholders: &mut Placeholders) -> Option<String> {
    let value = |text: &String, placeholders: &mut Placeholders| placeholders.value(AttributeValue::S(text.clone()));
    let condition = match range {
        SortKeyRange::All => return None,
        SortKeyRange::Equals(target) => {
            let name = placeholders.name(attribute);
            format!("{name} = {}", value(target, placeholders))
        }
        SortKeyRange::BeginsWith(prefix) => {
            let name = placeholders.name(attribute);
            format!("begins_with({name}, {})", value(prefix, placeholders))
        }
        SortKeyRange::Between(low, high) => {
            let name = placeholders.name(attribute);
            let low = value(low, placeholders);
            format!("{name} BETWEEN {low} AND {}", value(high, placeholders))
        }
        SortKeyRange::AtLeast(low) => {
            let name = placeholders.name(attribute);
            format!("{name} >= {}", value(low, placeholders))
        }
        SortKeyRange::AtMost(high) => {
            let name = placeholders.name(attribute);
            format!("{name} <= {}", value(high, placeholders))
        }
    };
    Some(condition)
}

// ---------------------------------------------------------------------------------------------
// Tables

fn key_element(attribute: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(attribute).key_type(key_type).build().map_err(build_failure)
}

/// Every attribute used as a key of the table or of one of its indexes, each declared once.
fn attribute_definitions(spec: &TableSpec) -> Result<Vec<AttributeDefinition>, StoreError> {
    let mut attributes = vec![PK, SK];
    for index in &spec.indexes {
        for attribute in [index.partition_attribute, index.sort_attribute] {
            if !attributes.contains(&attribute) {
                attributes.push(attribute);
            }
        }
    }
    attributes
        .into_iter()
        .map(|attribute| AttributeDefinition::builder().attribute_name(attribute).attribute_type(ScalarAttributeType::S).build().map_err(build_failure))
        .collect()
}

fn global_secondary_indexes(spec: &TableSpec) -> Result<Option<Vec<GlobalSecondaryIndex>>, StoreError> {
    if spec.indexes.is_empty() {
        // DynamoDB refuses an empty list of indexes.
        return Ok(None);
    }
    spec.indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key_element(index.partition_attribute, KeyType::Hash)?)
                .key_schema(key_element(index.sort_attribute, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_failure)
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

// ---------------------------------------------------------------------------------------------
// Conversions and errors

fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([(PK.to_owned(), AttributeValue::S(key.pk.clone())), (SK.to_owned(), AttributeValue::S(key.sk.clone()))])
}

fn value_to_attribute(value: &Value) -> Result<AttributeValue, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value).map_err(|error| StoreError::Validation(format!("value cannot be stored: {error}")))
}

fn item_to_attributes(item: &Item) -> Result<Attributes, StoreError> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(item).map_err(|error| StoreError::Validation(format!("item cannot be stored: {error}")))
}

fn item_from_attributes(attributes: Attributes) -> Result<Item, StoreError> {
    if !attributes.values().all(is_json_shaped) {
        return Err(StoreError::Backend("stored item holds binary or unknown attribute types".into()));
    }
    serde_dynamo::aws_sdk_dynamodb_1::from_item(attributes).map_err(|error| StoreError::Backend(format!("stored item cannot be read: {error}")))
}

/// True when the value maps onto JSON. Checked before handing data from the service to
/// serde_dynamo, which panics on attribute types newer than itself.
fn is_json_shaped(value: &AttributeValue) -> bool {
    match value {
        AttributeValue::S(_) | AttributeValue::N(_) | AttributeValue::Bool(_) | AttributeValue::Null(_) | AttributeValue::Ss(_) | AttributeValue::Ns(_) => true,
        AttributeValue::L(values) => values.iter().all(is_json_shaped),
        AttributeValue::M(values) => values.values().all(is_json_shaped),
        _ => false,
    }
}

/// Only reachable if a required field was forgotten in this file: a bug here, not in the request.
fn build_failure(error: BuildError) -> StoreError {
    StoreError::Backend(format!("malformed DynamoDB request: {error}"))
}

/// Sorts an SDK failure into the port's errors, which decide whether callers retry.
fn classify<E>(error: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    errors::classify(&DYNAMODB, None, error, |answer| match answer.code {
        "ConditionalCheckFailedException" => Some(StoreError::ConditionFailed),
        "ValidationException" => Some(StoreError::Validation(answer.message.to_owned())),
        _ => None,
    })
    .into()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rendered(condition: &Condition) -> (Option<String>, Placeholders) {
        let mut placeholders = Placeholders::default();
        let expression = optional_condition(Some(condition), &mut placeholders).expect("renders");
        (expression, placeholders)
    }

    #[test]
    fn constant_conditions_fold_away_without_leaving_placeholders() {
        let (expression, placeholders) = rendered(&Condition::And(vec![]));
        assert_eq!(expression, None);
        assert!(placeholders.names.is_empty() && placeholders.values.is_empty());

        let never = Condition::And(vec![Condition::equals("status", "open"), Condition::Or(vec![])]);
        let (expression, placeholders) = rendered(&never);
        assert_eq!(expression.as_deref(), Some("attribute_exists(#n0) AND attribute_not_exists(#n0)"));
        assert!(placeholders.values.is_empty(), "the dropped Equals must not leave a value behind");

        let always = Condition::Or(vec![Condition::Exists, Condition::And(vec![])]);
        assert_eq!(rendered(&always).0, None);
    }

    #[test]
    fn nested_conditions_are_parenthesised() {
        let condition = Condition::Or(vec![Condition::NotExists, Condition::And(vec![Condition::AttributeExists("a".into()), Condition::equals("b", 2)])]);
        let (expression, placeholders) = rendered(&condition);
        assert_eq!(expression.as_deref(), Some("(attribute_not_exists(#n0)) OR ((attribute_exists(#n1)) AND (#n2 = :v0))"));
        assert_eq!(placeholders.names.get("#n2").map(String::as_str), Some("b"));
        assert_eq!(placeholders.values.get(":v0"), Some(&AttributeValue::N("2".into())));
    }

    #[test]
    fn condition_and_update_placeholders_do_not_collide() {
        let mut placeholders = Placeholders::default();
        let condition = optional_condition(Some(&Condition::equals("v", 1)), &mut placeholders).expect("renders");
        let update = Update { set: vec![("v".into(), json!(2))], ..Update::default() };
        let expression = update_expression(&update, &mut placeholders).expect("renders");
        assert_eq!(condition.as_deref(), Some("#n0 = :v0"));
        assert_eq!(expression, "SET #n1 = :v1");
    }

    #[test]
    fn updates_fold_to_one_change_per_attribute_as_apply_defines() {
        let update = Update {
            set: vec![("a".into(), json!(1)), ("b".into(), json!("x")), ("a".into(), json!(5))],
            remove: vec!["b".into(), "c".into()],
            add: vec![("a".into(), 2), ("c".into(), 3), ("d".into(), 4), ("d".into(), 1)],
        };
        let mut placeholders = Placeholders::default();
        let expression = update_expression(&update, &mut placeholders).expect("renders");
        assert_eq!(expression, "SET #n0 = :v0, #n2 = :v1 REMOVE #n1 ADD #n3 :v2");
        assert_eq!(placeholders.values.get(":v0"), Some(&AttributeValue::N("7".into())));
        assert_eq!(placeholders.names.get("#n2").map(String::as_str), Some("c"));
        assert_eq!(placeholders.values.get(":v1"), Some(&AttributeValue::N("3".into())));
        assert_eq!(placeholders.values.get(":v2"), Some(&AttributeValue::N("5".into())));

        let adds_to_text = Update { set: vec![("a".into(), json!("x"))], add: vec![("a".into(), 1)], ..Update::default() };
        let mut placeholders = Placeholders::default();
        assert!(matches!(update_expression(&adds_to_text, &mut placeholders), Err(StoreError::Validation(_))));
    }

    #[test]
    fn an_empty_update_still_names_something() {
        let mut placeholders = Placeholders::default();
        let expression = update_expression(&Update::default(), &mut placeholders).expect("renders");
        assert_eq!(expression, "REMOVE #n0");
        assert_eq!(placeholders.names.get("#n0").map(String::as_str), Some(NEVER_WRITTEN_ATTRIBUTE));
    }

    #[test]
    fn ranges_dynamodb_would_refuse_are_rewritten() {
        let range = |r: SortKeyRange| reachable_range(&r);
        assert_eq!(range(SortKeyRange::Equals(String::new())), None);
        assert_eq!(range(SortKeyRange::BeginsWith(String::new())), Some(SortKeyRange::All));
        assert_eq!(range(SortKeyRange::Between("b".into(), "a".into())), None);
        assert_eq!(range(SortKeyRange::Between(String::new(), "a".into())), Some(SortKeyRange::AtMost("a".into())));
        assert_eq!(range(SortKeyRange::AtLeast(String::new())), Some(SortKeyRange::All));
        assert_eq!(range(SortKeyRange::AtMost(String::new())), None);
        let ordinary = SortKeyRange::Between("a".into(), "b".into());
        assert_eq!(range(ordinary.clone()), Some(ordinary));
    }

    #[test]
    fn cursors_round_trip_and_refuse_other_queries() {
        let shape = KeyShape { index: Some("by_owner"), partition: "owner", sort: "updated" };
        let last = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("case#1".into())),
            ("sk".to_owned(), AttributeValue::S("meta".into())),
            ("owner".to_owned(), AttributeValue::S("ana".into())),
            ("updated".to_owned(), AttributeValue::S("2024".into())),
        ]);
        let query = Query::index("cases", "by_owner", "ana");
        let cursor = encode_cursor(&query, &last).expect("encodes");
        assert_eq!(shape.start_key(&cursor, &query).expect("decodes"), last);

        let other_partition = Query::index("cases", "by_owner", "bo");
        assert!(matches!(shape.start_key(&cursor, &other_partition), Err(StoreError::InvalidCursor)));
        // Written by hand for the other query (the binding holds), but its key is not there.
        let forged = encode_cursor(&other_partition, &last).expect("encodes");
        assert!(matches!(shape.start_key(&forged, &other_partition), Err(StoreError::InvalidCursor)));
        let out_of_range = query.clone().range(SortKeyRange::AtLeast("2025".into()));
        let forged = encode_cursor(&out_of_range, &last).expect("encodes");
        assert!(matches!(shape.start_key(&forged, &out_of_range), Err(StoreError::InvalidCursor)));
        let table_shape = KeyShape { index: None, partition: PK, sort: SK };
        assert!(matches!(table_shape.start_key(&cursor, &Query::table("cases", "case#1")), Err(StoreError::InvalidCursor)));
        for garbage in ["", "e30", "!!", "bnVsbA"] {
            let garbage = Cursor(garbage.into());
            assert!(matches!(shape.start_key(&garbage, &query), Err(StoreError::InvalidCursor)), "{garbage:?}");
        }
    }

    #[test]
    fn cancellation_reasons_can_be_read_from_the_message() {
        let message = "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]";
        assert_eq!(reasons_from_message(message), ["None", "ConditionalCheckFailed"]);
        assert!(reasons_from_message("no list here").is_empty());
    }

    #[test]
    fn conflicts_are_transient_unless_a_condition_failed() {
        let cancelled = |codes: &[&str]| {
            let mut builder = TransactionCanceledException::builder();
            for code in codes {
                builder = builder.cancellation_reasons(aws_sdk_dynamodb::types::CancellationReason::builder().code(*code).build());
            }
            cancellation(&builder.build())
        };
        assert!(matches!(cancelled(&["None", "TransactionConflict"]), StoreError::Transient(_)));
        match cancelled(&["TransactionConflict", "ConditionalCheckFailed", "ValidationError"]) {
            StoreError::TransactionCancelled { reasons } => assert_eq!(
                reasons,
                [CancelReason::Other("TransactionConflict".into()), CancelReason::ConditionFailed, CancelReason::Other("ValidationError".into())]
            ),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn failed_conditions_and_refused_requests_keep_their_meaning() {
        // GIVEN answers of DynamoDB with a failed condition, a refused request and throttling
        let answer = |code: &str| {
            let error =
                aws_sdk_dynamodb::operation::put_item::PutItemError::generic(aws_sdk_dynamodb::error::ErrorMetadata::builder().code(code).message("m").build());
            SdkError::service_error(error, HttpResponse::new(400.try_into().expect("valid status"), "".into()))
        };

        // WHEN classified THEN each becomes the store error the port defines for it
        assert!(matches!(classify(answer("ConditionalCheckFailedException")), StoreError::ConditionFailed));
        assert!(matches!(classify(answer("ValidationException")), StoreError::Validation(m) if m == "m"));
        assert!(matches!(classify(answer("ProvisionedThroughputExceededException")), StoreError::Transient(_)));
        assert!(matches!(classify(answer("AccessDeniedException")), StoreError::Backend(_)));
    }

    #[test]
    fn stream_items_read_as_the_store_reads_them() {
        // GIVEN the item `docket_lambda::item_from_stream_image` reads from a stream image with
        // every JSON-shaped type (its test `stream_images_read_as_the_domain_wrote_them`): numbers
        // whole, negative, fractional and large, nested maps and lists, a string set
        let item = json!({
            "pk": "OUTBOX",
            "sk": "01KBX2Z4Q7V9W3H5J8M6N0P2R4",
            "count": 12,
            "below": -3,
            "ratio": 0.25,
            "big": 9007199254740993u64,
            "sent": false,
            "group": null,
            "tags": ["a", 2, true, null],
            "author": {"kind": "user", "ids": [{"id": "u1"}], "empty": {}},
            "names": ["x", "y"]
        });
        let Value::Object(item) = item else { unreachable!("an object") };
        // WHEN the store writes and reads it through the SDK's types
        let through_sdk = item_from_attributes(item_to_attributes(&item).expect("writable")).expect("readable");
        // THEN it reads the same item: the relay hands on exactly what a `get` would return
        assert_eq!(item, through_sdk);
    }

    #[test]
    fn unknown_attribute_types_are_refused_rather_than_panicking() {
        let binary = HashMap::from([("blob".to_owned(), AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1, 2])))]);
        assert!(matches!(item_from_attributes(binary), Err(StoreError::Backend(_))));
        let numbers = HashMap::from([("n".to_owned(), AttributeValue::N("12".into()))]);
        assert_eq!(item_from_attributes(numbers).expect("reads")["n"], json!(12));
    }
}
