//! The items of DynamoDB stream records, as the assign function relays the outbox from the cases
//! table's stream.

use docket_store::{Item, StoreError};
use serde_json::Value;

/// The item of a DynamoDB stream record's image (`dynamodb.NewImage` of a Lambda stream event:
/// DynamoDB JSON, `{"attr": {"S": ..}}`), as the store would read the same item: both go through
/// serde_dynamo's `AttributeValue` (the DynamoDB engine of `docket-aws` through the SDK's types,
/// this without them), so numbers, maps and lists come out exactly as a `get` or `query` returns
/// them. Binary attributes are refused as the store refuses them.
pub fn item_from_stream_image(image: Value) -> Result<Item, StoreError> {
    let attributes: serde_dynamo::Item = serde_json::from_value(image).map_err(|error| StoreError::Backend(format!("not a DynamoDB image: {error}")))?;
    if !attributes.inner().values().all(is_json_shaped) {
        return Err(StoreError::Backend("stream image holds binary attributes".into()));
    }
    serde_dynamo::from_item(attributes).map_err(|error| StoreError::Backend(format!("stream image cannot be read: {error}")))
}

/// True when the value maps onto JSON, as the store checks what it reads (stream images are read
/// into serde_dynamo's own attribute type, which knows no types newer than itself: those fail to
/// parse instead).
fn is_json_shaped(value: &serde_dynamo::AttributeValue) -> bool {
    use serde_dynamo::AttributeValue as V;
    match value {
        V::S(_) | V::N(_) | V::Bool(_) | V::Null(_) | V::Ss(_) | V::Ns(_) => true,
        V::L(values) => values.iter().all(is_json_shaped),
        V::M(values) => values.values().all(is_json_shaped),
        V::B(_) | V::Bs(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stream_images_read_as_the_domain_wrote_them() {
        // GIVEN an image as a DynamoDB stream hands it to Lambda: every JSON-shaped type, numbers
        // as strings (whole, negative, fractional, large), nested maps and lists
        let image = json!({
            "pk": {"S": "OUTBOX"},
            "sk": {"S": "01KBX2Z4Q7V9W3H5J8M6N0P2R4"},
            "count": {"N": "12"},
            "below": {"N": "-3"},
            "ratio": {"N": "0.25"},
            "big": {"N": "9007199254740993"},
            "sent": {"BOOL": false},
            "group": {"NULL": true},
            "tags": {"L": [{"S": "a"}, {"N": "2"}, {"BOOL": true}, {"NULL": true}]},
            "author": {"M": {
                "kind": {"S": "user"},
                "ids": {"L": [{"M": {"id": {"S": "u1"}}}]},
                "empty": {"M": {}}
            }},
            "names": {"SS": ["x", "y"]}
        });
        // WHEN it is read
        let item = item_from_stream_image(image).expect("a readable image");
        // THEN it is the JSON item the domain wrote (the DynamoDB engine's test
        // `stream_items_read_as_the_store_reads_them` holds the store to the same item)
        assert_eq!(
            Value::Object(item),
            json!({
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
            })
        );
    }

    #[test]
    fn stream_images_the_store_could_not_hold_are_refused() {
        // GIVEN images with a binary attribute, a binary set, an unknown type, two types in one
        // value and something that is not an image at all
        let refused = [
            json!({"pk": {"S": "OUTBOX"}, "blob": {"B": "AQI="}}),
            json!({"pk": {"S": "OUTBOX"}, "blobs": {"BS": ["AQI="]}}),
            json!({"pk": {"S": "OUTBOX"}, "nested": {"M": {"blob": {"B": "AQI="}}}}),
            json!({"pk": {"S": "OUTBOX"}, "odd": {"X": "1"}}),
            json!({"pk": {"S": "OUTBOX", "N": "1"}}),
            json!(["pk", "OUTBOX"]),
        ];
        for image in refused {
            // WHEN each is read
            let read = item_from_stream_image(image.clone());
            // THEN it is refused as unreadable, not turned into something else
            assert!(matches!(read, Err(StoreError::Backend(_))), "{image} gave {read:?}");
        }
    }
}
