//! `/openapi.json` tells the truth: it is generated from the route table and the Rust types of
//! the bodies, documents exactly the routes the router is built from, gives every body a
//! schema, and every schema it refers to exists.

use std::collections::BTreeSet;

use docket_api::routes::{openapi_document, route_table};
use serde_json::Value;

fn document() -> Value {
    openapi_document().clone()
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
    let routed: BTreeSet<(String, String)> = route_table().into_iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
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
    for route in route_table() {
        let (method, path) = (route.method, route.path);
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

/// Every request body and every response that carries one has a schema, and every operation
/// that takes a JSON body says so.
#[test]
fn every_body_has_a_schema() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap().iter().filter(|(k, _)| *k != "parameters") {
            for (code, response) in operation["responses"].as_object().unwrap() {
                for (content_type, media) in response["content"].as_object().into_iter().flatten() {
                    assert!(media["schema"].is_object(), "{method} {path} {code} {content_type}: no schema");
                }
                let bodiless = ["204", "303", "202"].contains(&code.as_str()) || method == "options";
                if code.starts_with('2') && !bodiless && !["delete"].contains(&method.as_str()) {
                    assert!(response["content"].is_object(), "{method} {path} {code}: no body documented");
                }
            }
            if let Some(body) = operation.get("requestBody") {
                let content = body["content"].as_object().unwrap_or_else(|| panic!("{method} {path}: request body without content"));
                assert!(content.values().all(|m| m["schema"].is_object()), "{method} {path}: request body without schema");
            }
        }
    }
    // AND the record kinds the web interface is generated against are there
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in ["CaseView", "StaffCase", "PortalCase", "StreamEntry", "EmailMeta", "Problem", "CaseFields", "CaseFieldsPatch", "Contact", "User"] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

/// What `/openapi.json` serves is the generated document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_is_the_generated_one() {
    let api = docket_e2e::TestApi::new(docket_e2e::Engine::Sqlite).await;
    let reply = api.call(axum::http::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, document());
}

/// The console's API types are generated from `web/openapi.json`; it must be the document the
/// code makes, so that a contract change fails the web build's typecheck instead of a user.
#[test]
fn the_web_console_builds_against_the_current_document() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../web/openapi.json");
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("web/openapi.json exists")).expect("web/openapi.json is JSON");
    assert!(
        committed == document(),
        "web/openapi.json is stale: regenerate it with `cargo run -q -p docket -- openapi > web/openapi.json` and rebuild the console"
    );
}
