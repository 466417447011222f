//! Turning request bodies into typed fields: strict parsing that names the offending field, and
//! JSON merge patch (RFC 7386) so that updates are validated by exactly the code that validates
//! creation.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{DomainError, DomainResult};

/// Parses a JSON value into `T`, naming the path of the first offending field.
pub fn parse<T: DeserializeOwned>(value: Value) -> DomainResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let field = if path == "." || path.is_empty() {
            // Unknown and missing fields are reported at the parent; the name is in the message.
            inner.split('`').nth(1).unwrap_or("body").to_owned()
        } else {
            path
        };
        DomainError::Validation { field, reason: inner }
    })
}

/// A JSON merge patch (RFC 7396) of the editable fields `F` of a record, as a caller sent it:
/// a JSON object whose members replace fields (`null` clears one). It is checked against `F`
/// when applied to the version it changes, by the same parsing that checks a creation, so an
/// unknown or invalid field is named in the error.
#[derive(Debug, Clone)]
pub struct MergePatch<F> {
    changes: Map<String, Value>,
    fields: PhantomData<fn() -> F>,
}

impl<F: Serialize + DeserializeOwned> MergePatch<F> {
    pub fn new(changes: Map<String, Value>) -> Self {
        MergePatch { changes, fields: PhantomData }
    }

    /// The fields after the patch, validated.
    pub fn apply(self, current: &F) -> DomainResult<F> {
        patch(current, Value::Object(self.changes))
    }
}

impl<'de, F> Deserialize<'de> for MergePatch<F> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(MergePatch { changes: Map::deserialize(deserializer)?, fields: PhantomData })
    }
}

/// Applies a merge patch to the editable fields of a record and parses the result.
fn patch<F: Serialize + DeserializeOwned>(current: &F, patch: Value) -> DomainResult<F> {
    let Value::Object(patch) = patch else {
        return Err(DomainError::invalid("body", "a patch must be a JSON object"));
    };
    let mut target = serde_json::to_value(current).map_err(|e| DomainError::Internal(e.to_string()))?;
    merge(&mut target, &patch);
    parse(target)
}

fn merge(target: &mut Value, patch: &Map<String, Value>) {
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else { return };
    for (name, value) in patch {
        match value {
            Value::Null => {
                fields.remove(name);
            }
            // A tagged value (`{"kind": …}`) of another kind is another value, not a change of
            // the old one: what the old kind carried must not linger next to the new kind's.
            Value::Object(inner) if inner.get("kind").is_some_and(|kind| fields.get(name).and_then(|old| old.get("kind")) != Some(kind)) => {
                let mut fresh = Value::Object(Map::new());
                merge(&mut fresh, inner);
                fields.insert(name.clone(), fresh);
            }
            Value::Object(inner) => merge(fields.entry(name.clone()).or_insert(Value::Null), inner),
            other => {
                fields.insert(name.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Fields {
        name: String,
        phone: Option<String>,
        #[serde(default)]
        tags: Vec<String>,
    }

    #[test]
    fn a_tagged_value_of_another_kind_replaces_the_old_one() {
        let mut target = json!({"applies_to": {"kind": "accounts", "account_ids": ["a1"]}, "targets": {"High": {"first": 1}}});
        let patch = json!({"applies_to": {"kind": "contacts", "account_ids": null, "contact_ids": ["c1"]}, "targets": {"High": {"second": 2}}});
        merge(&mut target, patch.as_object().unwrap());
        assert_eq!(target["applies_to"], json!({"kind": "contacts", "contact_ids": ["c1"]}));
        assert_eq!(target["targets"], json!({"High": {"first": 1, "second": 2}}), "untagged objects still merge");
        let same_kind = json!({"applies_to": {"kind": "contacts", "contact_ids": ["c2"]}});
        merge(&mut target, same_kind.as_object().unwrap());
        assert_eq!(target["applies_to"], json!({"kind": "contacts", "contact_ids": ["c2"]}));
    }

    #[test]
    fn merge_patch_sets_removes_and_keeps() {
        let current = Fields { name: "Ada".into(), phone: Some("1".into()), tags: vec!["a".into()] };
        let next: Fields = patch(&current, json!({"phone": null, "tags": ["b"]})).unwrap();
        assert_eq!(next, Fields { name: "Ada".into(), phone: None, tags: vec!["b".into()] });
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let err = parse::<Fields>(json!({"name": "x", "colour": "red"})).unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "colour"), "{err:?}");
        let err = parse::<Fields>(json!({})).unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "name"), "{err:?}");
        let err = parse::<Fields>(json!({"name": 5})).unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "name"), "{err:?}");
    }

    #[test]
    fn a_patch_must_be_an_object() {
        let current = Fields { name: "Ada".into(), phone: None, tags: vec![] };
        assert!(patch(&current, json!(["name"])).is_err());
    }
}
