//! Conditions on the current state of an item, checked atomically with a write.

use serde_json::Value;

use crate::Item;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The item exists.
    Exists,
    /// The item does not exist.
    NotExists,
    AttributeExists(String),
    AttributeNotExists(String),
    /// The attribute exists and equals the value.
    Equals(String, Value),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    pub fn equals(name: &str, value: impl Into<Value>) -> Self {
        Condition::Equals(name.to_owned(), value.into())
    }

    /// Evaluates the condition against the current item (`None` when it does not exist).
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::Exists => current.is_some(),
            Condition::NotExists => current.is_none(),
            Condition::AttributeExists(name) => current.is_some_and(|i| i.contains_key(name)),
            Condition::AttributeNotExists(name) => !current.is_some_and(|i| i.contains_key(name)),
            Condition::Equals(name, value) => current.and_then(|i| i.get(name)).is_some_and(|v| same_value(v, value)),
            Condition::And(all) => all.iter().all(|c| c.holds(current)),
            Condition::Or(any) => any.iter().any(|c| c.holds(current)),
        }
    }
}

/// Numbers compare by value (1 == 1.0), as DynamoDB compares N attributes.
fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        _ => a == b,
    }
}
