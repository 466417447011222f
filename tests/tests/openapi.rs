//! `/openapi.json` tells the truth: it documents exactly the routes the router is built from,
//! and every schema it refers to exists.

use std::collections::BTreeSet;

use docket_api::routes::{OPENAPI_DOCUMENT, route_table};
use serde_json::Value;

fn document() -> Value {
    serde_json::from_str(OPENAPI_DOCUMENT).expect("openapi.json is JSON")
}

#[test]
fn documented_operations_are_exactly_the_routes() {
    // GIVEN the document and the route table
    let documented: BTreeSet<(String, String)> = document()["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| ["get", "post", "put", "patch", "delete", "options"].contains(&k.as_str()))
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = route_table().into_iter().map(|(m, p, _)| (m.to_owned(), p.to_owned())).collect();
    // THEN neither has an operation the other lacks
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(undocumented.is_empty(), "routes missing from openapi.json: {undocumented:?}");
    assert!(unrouted.is_empty(), "openapi.json documents routes that do not exist: {unrouted:?}");
}

#[test]
fn every_reference_resolves() {
    let doc = document();
    fn walk(value: &Value, refs: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    refs.push(r.clone());
                }
                map.values().for_each(|v| walk(v, refs));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, refs)),
            _ => {}
        }
    }
    let mut refs = Vec::new();
    walk(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
    }
}

#[test]
fn every_operation_documents_its_success_and_parameters() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let path_params: BTreeSet<&str> = path.split('/').filter_map(|s| s.strip_prefix('{')?.strip_suffix('}')).collect();
        let declared: BTreeSet<&str> =
            item["parameters"].as_array().map(|ps| ps.iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect()).unwrap_or_default();
        assert_eq!(path_params, declared, "{path}: path parameters");
        for (method, operation) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            let responses = operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: responses"));
            assert!(responses.keys().any(|code| code.starts_with('2')), "{method} {path}: no success response");
        }
    }
}

/// Every operation the document does not declare public (`security: []`) refuses a caller
/// without a token, and every public one answers without asking for one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operations_documented_as_public_work_without_a_token() {
    // GIVEN the API (storage plays no part in authentication: one engine is enough)
    let api = docket_e2e::TestApi::new(docket_e2e::Engine::Sqlite).await;
    let doc = document();
    for (method, path, _) in route_table() {
        let operation = &doc["paths"][path][method.to_lowercase()];
        let public = operation["security"].as_array().is_some_and(Vec::is_empty);
        // WHEN it is called without a token, with placeholder ids in the path
        let concrete: String = path.split('/').map(|s| if s.starts_with('{') { "01PLACEHOLDER" } else { s }).collect::<Vec<_>>().join("/");
        let method = axum::http::Method::from_bytes(method.as_bytes()).expect("method");
        let body = matches!(method, axum::http::Method::POST | axum::http::Method::PUT | axum::http::Method::PATCH).then(|| "{}".to_owned());
        let reply = api.send(method.clone(), &concrete, None, &[], body).await;
        // THEN a protected operation answers 401, a public one anything but 401
        if public {
            assert_ne!(reply.status, 401, "{method} {path} is documented as public: {}", reply.body);
        } else {
            reply.assert_problem(401, None);
        }
    }
}
