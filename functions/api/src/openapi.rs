//! The OpenAPI document, built from the code: the route table says which operations exist and
//! what each takes and answers (by Rust type), and the types' schemas come from their
//! `utoipa::ToSchema` derivations — the same serde attributes that shape the JSON shape the
//! schema, so the document cannot drift from what the API sends and accepts.
//!
//! Why not `utoipa-axum`'s path macros: most operations share generic handlers (the directory's
//! create/list/get/update for eight kinds of record), which the macros describe poorly; a small
//! builder beside each route keeps one place per operation.

use std::cell::Cell;
use std::collections::BTreeMap;

use axum::routing::MethodRouter;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use crate::AppState;

/// One route: its method and path (OpenAPI syntax), its handler, and its part of the document.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub handler: MethodRouter<AppState>,
    operation: Map<String, Value>,
    path_params: Vec<(&'static str, &'static str)>,
    schemas: BTreeMap<String, Value>,
}

/// Why a request can fail, as the document words each status.
fn error_description(status: u16) -> &'static str {
    match status {
        400 => "Malformed request",
        401 => "Not authenticated",
        403 => "Not allowed",
        404 => "Not found",
        409 => "Conflict with the stored state",
        410 => "No longer valid",
        412 => "Stale If-Match",
        413 => "Body too large",
        415 => "Not JSON",
        422 => "Invalid field",
        428 => "If-Match required",
        429 => "Rate limited",
        503 => "Temporarily unavailable",
        _ => "Error",
    }
}

thread_local! {
    /// Whether routes being built describe themselves (see [`routes_only`]).
    static DESCRIBING: Cell<bool> = const { Cell::new(true) };
}

fn describing() -> bool {
    DESCRIBING.with(Cell::get)
}

/// Builds routes without their part of the document. Why: a cold start of the `api` function
/// builds every route, and generating the schemas of every body and answer then is most of the
/// start's work, wasted unless `/openapi.json` is asked for (which builds the table again,
/// described, once).
pub fn routes_only<R>(build: impl FnOnce() -> R) -> R {
    DESCRIBING.with(|d| d.set(false));
    let built = build();
    DESCRIBING.with(|d| d.set(true));
    built
}

/// A reference to `T`'s schema, registering it and every schema it refers to (nothing while
/// building [`routes_only`]).
fn schema_of<T: ToSchema>(schemas: &mut BTreeMap<String, Value>) -> Value {
    if !describing() {
        return Value::Null;
    }
    let mut found = Vec::new();
    T::schemas(&mut found);
    for (name, schema) in found {
        schemas.insert(name, serde_json::to_value(schema).unwrap_or(Value::Null));
    }
    let name = T::name().into_owned();
    schemas.insert(name.clone(), serde_json::to_value(T::schema()).unwrap_or(Value::Null));
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

impl Route {
    pub fn new(method: &'static str, path: &'static str, handler: MethodRouter<AppState>) -> Self {
        Route { method, path, handler, operation: Map::new(), path_params: Vec::new(), schemas: BTreeMap::new() }
    }

    /// Its operation id and one-line summary.
    pub fn op(mut self, id: &str, summary: &str) -> Self {
        self.operation.insert("operationId".into(), id.into());
        self.operation.insert("summary".into(), summary.into());
        self
    }

    /// Answers without a token.
    pub fn public(mut self) -> Self {
        self.operation.insert("security".into(), json!([]));
        self
    }

    pub fn path_param(mut self, name: &'static str, description: &'static str) -> Self {
        self.path_params.push((name, description));
        self
    }

    fn parameter(&mut self, parameter: Value) {
        self.operation.entry("parameters").or_insert_with(|| json!([])).as_array_mut().expect("an array").push(parameter);
    }

    /// A query parameter of the given JSON schema.
    pub fn query(mut self, name: &str, schema: Value, description: &str) -> Self {
        let mut parameter = json!({ "name": name, "in": "query", "schema": schema });
        if !description.is_empty() {
            parameter["description"] = description.into();
        }
        self.parameter(parameter);
        self
    }

    /// The `limit` and `cursor` of a paged list.
    pub fn paged(self) -> Self {
        // A limit out of range is malformed; a cursor of another list is refused by name.
        self.query("limit", json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 25}), "")
            .query("cursor", json!({"type": "string"}), "")
            .errors(&[400, 422])
    }

    pub fn header(mut self, name: &str, required: bool, description: &str) -> Self {
        self.parameter(json!({ "name": name, "in": "header", "required": required, "schema": {"type": "string"}, "description": description }));
        self
    }

    /// The request body: `T` as JSON (and as a JSON merge patch when `patch`).
    pub fn body<T: ToSchema>(mut self, patch: bool) -> Self {
        let mut schema = schema_of::<T>(&mut self.schemas);
        if patch && describing() {
            // A merge patch names only what changes: the record's schema without `required`.
            let name = format!("{}Patch", T::name());
            let mut partial = serde_json::to_value(T::schema()).unwrap_or(Value::Null);
            drop_required(&mut partial);
            self.schemas.insert(name.clone(), partial);
            schema = json!({ "$ref": format!("#/components/schemas/{name}") });
        }
        let mut content = Map::new();
        let types: &[&str] = if patch { &["application/merge-patch+json", "application/json"] } else { &["application/json"] };
        for content_type in types {
            content.insert((*content_type).into(), json!({ "schema": schema }));
        }
        self.operation.insert("requestBody".into(), json!({ "required": true, "content": content }));
        // Every body can be malformed, too large or of another media type.
        self.errors(&[400, 413, 415])
    }

    /// A request body given as content types and their schemas (files, form posts).
    pub fn raw_body<T: ToSchema>(mut self, content_types: &[&str]) -> Self {
        let schema = schema_of::<T>(&mut self.schemas);
        let content: Map<String, Value> = content_types.iter().map(|t| ((*t).to_owned(), json!({ "schema": schema }))).collect();
        self.operation.insert("requestBody".into(), json!({ "required": true, "content": content }));
        self.errors(&[400, 413, 415])
    }

    fn response(&mut self, status: u16, response: Value) {
        self.operation.entry("responses").or_insert_with(|| json!({})).as_object_mut().expect("an object").insert(status.to_string(), response);
    }

    /// A JSON response of type `T`.
    pub fn reply<T: ToSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = schema_of::<T>(&mut self.schemas);
        self.response(status, json!({ "description": description, "content": { "application/json": { "schema": schema } } }));
        self
    }

    /// A response of another content type.
    pub fn reply_as<T: ToSchema>(mut self, status: u16, description: &str, content_type: &str) -> Self {
        let schema = schema_of::<T>(&mut self.schemas);
        self.response(status, json!({ "description": description, "content": { content_type: { "schema": schema } } }));
        self
    }

    /// A page of `T`: `{"items": [...], "next_cursor": ...}`.
    pub fn reply_page<T: ToSchema>(mut self, status: u16, description: &str) -> Self {
        let schema = schema_of::<T>(&mut self.schemas);
        let page = json!({
            "type": "object",
            "required": ["items"],
            "properties": { "items": { "type": "array", "items": schema }, "next_cursor": { "type": ["string", "null"] } },
        });
        self.response(status, json!({ "description": description, "content": { "application/json": { "schema": page } } }));
        self
    }

    /// A response without a body.
    pub fn reply_empty(mut self, status: u16, description: &str) -> Self {
        self.response(status, json!({ "description": description }));
        self
    }

    /// A header the response of `status` carries.
    pub fn reply_header(mut self, status: u16, name: &str, description: &str) -> Self {
        if let Some(response) = self.operation.get_mut("responses").and_then(|r| r.get_mut(status.to_string())) {
            let headers = response.as_object_mut().expect("an object").entry("headers").or_insert_with(|| json!({}));
            headers[name] = json!({ "schema": {"type": "string"}, "description": description });
        }
        self
    }

    /// The record's version as its ETag, on the response of `status`.
    pub fn etag(self, status: u16) -> Self {
        self.reply_header(status, "ETag", "Version of the record, for If-Match")
    }

    /// The statuses it can fail with, each a `problem+json` body.
    pub fn errors(mut self, statuses: &[u16]) -> Self {
        for status in statuses {
            let problem = json!({ "$ref": "#/components/schemas/Problem" });
            self.response(*status, json!({ "description": error_description(*status), "content": { "application/problem+json": { "schema": problem } } }));
        }
        self
    }
}

/// Removes `required` from an object schema (and the parts of an `allOf`).
fn drop_required(schema: &mut Value) {
    if let Some(object) = schema.as_object_mut() {
        object.remove("required");
        if let Some(Value::Array(parts)) = object.get_mut("allOf") {
            parts.iter_mut().for_each(drop_required);
        }
    }
}

/// Makes the generated schemas say what the JSON allows:
/// - `oneOf` becomes `anyOf`: the views and bodies that are unions (a staff or a portal case, an
///   article either way) overlap — a staff case has every field of a portal one — so exactly-one
///   would refuse valid values;
/// - a schema flattened into another (`allOf`, serde's `flatten`) cannot forbid unknown
///   properties, since the properties of the record around it are unknown to it.
fn loosen(schemas: &mut BTreeMap<String, Value>) {
    fn any_of(value: &mut Value) {
        match value {
            Value::Object(map) => {
                if let Some(one_of) = map.remove("oneOf") {
                    map.insert("anyOf".into(), one_of);
                }
                map.values_mut().for_each(any_of);
            }
            Value::Array(items) => items.iter_mut().for_each(any_of),
            _ => {}
        }
    }
    fn flattened(value: &Value, names: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::Array(parts)) = map.get("allOf") {
                    for part in parts {
                        if let Some(reference) = part.get("$ref").and_then(Value::as_str) {
                            names.push(reference.rsplit('/').next().unwrap_or_default().to_owned());
                        }
                    }
                }
                map.values().for_each(|v| flattened(v, names));
            }
            Value::Array(items) => items.iter().for_each(|v| flattened(v, names)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    for schema in schemas.values_mut() {
        any_of(schema);
        flattened(schema, &mut names);
    }
    for name in names {
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            schema.remove("additionalProperties");
        }
    }
}

/// The whole document for the routes.
pub fn document(routes: &[Route]) -> Value {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    let mut schemas: BTreeMap<String, Value> = BTreeMap::new();
    schema_of::<crate::problem::Problem>(&mut schemas);
    for route in routes {
        let item = paths.entry(route.path).or_default();
        if !route.path_params.is_empty() && !item.contains_key("parameters") {
            let parameters: Vec<Value> = route
                .path_params
                .iter()
                .map(|(name, description)| json!({ "name": name, "in": "path", "required": true, "schema": {"type": "string"}, "description": description }))
                .collect();
            item.insert("parameters".into(), Value::Array(parameters));
        }
        item.insert(route.method.to_lowercase(), Value::Object(route.operation.clone()));
        schemas.extend(route.schemas.clone());
    }
    loosen(&mut schemas);
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Docket API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Case management: cases, directory, settings, knowledge base and public web forms. Errors are application/problem+json. Updates take JSON merge patch bodies and If-Match with the ETag read. Generated from the code.",
        },
        "servers": [{ "url": "/" }],
        "security": [{ "bearer": [] }],
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": schemas,
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_built_without_their_description_are_the_same_routes() {
        let bare = routes_only(crate::routes::route_table);
        let described = crate::routes::route_table();
        let pairs = |routes: &[Route]| routes.iter().map(|r| (r.method, r.path)).collect::<Vec<_>>();
        assert_eq!(pairs(&bare), pairs(&described));
        assert!(bare.iter().all(|r| r.schemas.is_empty()), "no schema is generated for the router");
        assert!(described.iter().any(|r| !r.schemas.is_empty()), "described again afterwards");
        let document = document(&described);
        assert!(document["components"]["schemas"].as_object().is_some_and(|s| s.len() > 20), "the document has its schemas");
    }
}
