//! A write transaction being built: every operation goes in with what it stands for, so a
//! cancellation is explained by the refused operation's label (the field it checks, the version
//! it expects) rather than by its position in a list kept beside the operations.

use docket_store::{ItemStore, StoreError, WriteOp};

use crate::DomainError;

/// What an operation of a transaction stands for, to explain a cancellation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Label {
    /// A check that a record the change refers to exists.
    Reference { field: &'static str, kind: &'static str, id: String },
    /// A lookup item only one record may hold (an address, a domain, an id).
    Unique { field: &'static str, value: String },
    /// The record written over, conditional on the version that was read.
    Version { expected: u64 },
    /// The idempotency item of a request that may be a replay.
    Idempotency,
    /// The number item of a new case: refused only when the counter is behind the numbers in use.
    Number,
    /// A claim that something happens once (a link, a step of a rule): refused when it happened.
    Claim,
    /// The SLA reply turns of a case, conditional on the count read: refused when another
    /// reply landed meanwhile (the writer reads again and retries).
    Turn,
    /// What the SLA watcher filed about a case, conditional on the revision read: refused
    /// when another look landed meanwhile (the watcher reads again).
    Watch,
    /// Nothing that explains a refusal better than the store's own error.
    Plain,
}

/// Operations of one transaction, each with its label.
#[derive(Debug, Default)]
pub(crate) struct Txn {
    ops: Vec<WriteOp>,
    labels: Vec<Label>,
}

impl Txn {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, op: WriteOp, label: Label) {
        self.ops.push(op);
        self.labels.push(label);
    }

    /// An operation whose refusal needs no explanation of its own.
    pub(crate) fn plain(&mut self, op: WriteOp) {
        self.push(op, Label::Plain);
    }

    pub(crate) fn plain_all(&mut self, ops: impl IntoIterator<Item = WriteOp>) {
        for op in ops {
            self.plain(op);
        }
    }

    /// Adds the operations of another transaction, keeping their labels.
    pub(crate) fn append(&mut self, other: Txn) {
        self.ops.extend(other.ops);
        self.labels.extend(other.labels);
    }

    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    /// The operations, to add a condition to one of them.
    pub(crate) fn ops_mut(&mut self) -> impl Iterator<Item = &mut WriteOp> {
        self.ops.iter_mut()
    }

    /// Drops checks of items the same transaction writes: the write carries its own condition,
    /// and DynamoDB refuses a transaction touching one item twice.
    pub(crate) fn without_redundant_checks(self) -> Txn {
        let written: std::collections::HashSet<_> =
            self.ops.iter().filter(|op| !matches!(op, WriteOp::Check { .. })).filter_map(|op| op.key().map(|k| (op.table().to_owned(), k))).collect();
        let redundant = |op: &WriteOp| matches!(op, WriteOp::Check { table, key, .. } if written.contains(&(table.clone(), key.clone())));
        let (ops, labels) = self.ops.into_iter().zip(self.labels).filter(|(op, _)| !redundant(op)).unzip();
        Txn { ops, labels }
    }

    /// Commits every operation or none; a refusal carries the label of the refused operation.
    pub(crate) async fn commit(self, store: &dyn ItemStore) -> Result<(), Refused> {
        let Txn { ops, labels } = self;
        store.transact(ops).await.map_err(|error| Refused::new(error, &labels))
    }
}

/// A transaction the store refused, with the label of the operation whose condition failed.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) error: StoreError,
    pub(crate) label: Option<Label>,
}

impl Refused {
    fn new(error: StoreError, labels: &[Label]) -> Self {
        let label = error.failed_operation().and_then(|i| labels.get(i)).cloned();
        Refused { error, label }
    }

    /// A refusal that is not about any operation (the transaction could not be built).
    pub(crate) fn unlabelled(error: StoreError) -> Self {
        Refused { error, label: None }
    }

    /// A transaction whose operations could not be made (a record that does not encode).
    pub(crate) fn unbuildable(error: DomainError) -> Self {
        Refused::unlabelled(StoreError::Validation(error.to_string()))
    }

    pub(crate) fn is_condition_failure(&self) -> bool {
        self.error.is_condition_failure()
    }

    pub(crate) fn is(&self, label: &Label) -> bool {
        self.label.as_ref() == Some(label)
    }

    pub(crate) fn is_reference(&self) -> bool {
        matches!(self.label, Some(Label::Reference { .. }))
    }
}

impl From<Refused> for DomainError {
    /// Names the field or the version that refused the change; anything else is the store's error.
    fn from(refused: Refused) -> Self {
        match refused.label {
            Some(Label::Reference { field, kind, id }) => DomainError::invalid(field, format!("{kind} {id} does not exist")),
            Some(Label::Unique { field, value }) => {
                DomainError::Conflict { field: field.to_owned(), reason: format!("{value} is already used by another record") }
            }
            Some(Label::Version { expected }) => DomainError::StaleVersion { expected },
            Some(Label::Idempotency | Label::Number | Label::Claim | Label::Turn | Label::Watch | Label::Plain) | None => DomainError::from(refused.error),
        }
    }
}

#[cfg(test)]
mod tests {
    use docket_store::{CancelReason, Condition, Key};
    use serde_json::json;

    use super::*;

    fn item(pk: &str, sk: &str) -> docket_store::Item {
        json!({ "pk": pk, "sk": sk }).as_object().cloned().unwrap_or_default()
    }

    fn cancelled_at(index: usize, len: usize) -> StoreError {
        let mut reasons = vec![CancelReason::None; len];
        reasons[index] = CancelReason::ConditionFailed;
        StoreError::TransactionCancelled { reasons }
    }

    #[test]
    fn a_refusal_is_explained_by_the_label_of_the_refused_operation() {
        let labels = [Label::Version { expected: 3 }, Label::Plain, Label::Reference { field: "account_id", kind: "account", id: "a1".into() }];
        let refused = Refused::new(cancelled_at(2, 3), &labels);
        assert!(refused.is_reference());
        match DomainError::from(refused) {
            DomainError::Validation { field, reason } => {
                assert_eq!(field, "account_id");
                assert!(reason.contains("account a1"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(DomainError::from(Refused::new(cancelled_at(0, 3), &labels)), DomainError::StaleVersion { expected: 3 }));
        let plain = Refused::new(cancelled_at(1, 3), &labels);
        assert!(plain.is(&Label::Plain) && plain.is_condition_failure());
    }

    #[test]
    fn a_failure_that_names_no_operation_has_no_label() {
        let refused = Refused::new(StoreError::Transient("throttled".into()), &[Label::Number]);
        assert_eq!(refused.label, None);
        assert!(matches!(DomainError::from(refused), DomainError::Transient(_)));
    }

    #[test]
    fn dropping_redundant_checks_keeps_the_labels_with_their_operations() {
        let mut txn = Txn::new();
        txn.push(WriteOp::check("t", Key::new("a", "1"), Condition::Exists), Label::Reference { field: "a", kind: "k", id: "1".into() });
        txn.push(WriteOp::put_if("t", item("b", "2"), Condition::NotExists), Label::Number);
        txn.push(WriteOp::check("t", Key::new("b", "2"), Condition::Exists), Label::Reference { field: "b", kind: "k", id: "2".into() });
        txn.plain(WriteOp::put("t", item("a", "1")));
        txn.push(WriteOp::check("u", Key::new("a", "1"), Condition::Exists), Label::Claim);
        let kept = txn.without_redundant_checks();
        assert_eq!(kept.len(), 3);
        assert_eq!(kept.labels, vec![Label::Number, Label::Plain, Label::Claim]);
        assert!(matches!(&kept.ops[2], WriteOp::Check { table, .. } if table == "u"));
        let refused = Refused::new(cancelled_at(0, 3), &kept.labels);
        assert!(refused.is(&Label::Number));
    }
}
