//! The NUL rule, stated on every request body of the document.

use serde_json::{Value, json};
use utoipa::openapi::OpenApi;

use crate::api::extract::free_json::JSON_DEPTH;

/// What a string in a JSON body may hold: the server refuses a NUL character anywhere in a body, in a
/// value or a key (PostgreSQL text cannot hold one).
const NUL_FREE: &str = "^[^\\x00]*$";

/// States the NUL rule on every request body: strings get the pattern, and an object's further keys must
/// match it (`patternProperties`; generators do not all honour `propertyNames`) and hold NUL-free JSON. A
/// property-based tester or client generator then stays within what the server accepts. Returns JSON:
/// `utoipa`'s model has no `patternProperties`.
pub fn forbid_nul_in_bodies(doc: &OpenApi) -> Value {
    let Ok(mut value) = serde_json::to_value(doc) else { return Value::Null };
    let mut referenced = Vec::new();
    if let Some(paths) = value["paths"].as_object_mut() {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                let body = operation.get_mut("requestBody").and_then(|body| body.get_mut("content"));
                let Some(content) = body.and_then(Value::as_object_mut) else { continue };
                for media in content.values_mut() {
                    if let Some(schema) = media.get_mut("schema") {
                        forbid_nul(schema, &mut referenced);
                    }
                }
            }
        }
    }
    let mut done = std::collections::HashSet::new();
    while let Some(name) = referenced.pop() {
        if !done.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = value.pointer_mut(&format!("/components/schemas/{name}")) {
            forbid_nul(schema, &mut referenced);
        }
    }
    add_json_value_schemas(&mut value["components"]["schemas"]);
    value
}

fn forbid_nul(schema: &mut Value, referenced: &mut Vec<String>) {
    let Some(object) = schema.as_object_mut() else { return };
    if let Some(name) = object.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        referenced.push(name.to_owned());
    }
    let types: Vec<String> = match object.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let fixed = object.contains_key("enum") || object.contains_key("const");
    if types.iter().any(|t| t == "string") && !fixed && !object.contains_key("pattern") {
        object.insert("pattern".to_owned(), json!(NUL_FREE));
    }
    if types.iter().any(|t| t == "object") && !object.contains_key("additionalProperties") {
        object
            .insert("patternProperties".to_owned(), json!({ NUL_FREE: { "$ref": "#/components/schemas/JsonValue" } }));
        object.insert("additionalProperties".to_owned(), json!(false));
    }
    for key in ["properties", "patternProperties"] {
        if let Some(properties) = object.get_mut(key).and_then(Value::as_object_mut) {
            properties.values_mut().for_each(|p| forbid_nul(p, referenced));
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(inner) = object.get_mut(key) {
            forbid_nul(inner, referenced);
        }
    }
    for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
        if let Some(list) = object.get_mut(key).and_then(Value::as_array_mut) {
            list.iter_mut().for_each(|s| forbid_nul(s, referenced));
        }
    }
}

/// Any JSON value without a NUL character in a string or key, nesting at most `JSON_DEPTH` levels, as
/// `JsonValue` (and the levels it is made of: `JsonScalar`, `JsonValue1` … `JsonValue{JSON_DEPTH - 1}`).
/// Client generators cannot follow a recursive union, so the levels are written out; the server refuses
/// deeper JSON (`api::extract::free_json`), so the document and the server draw the same line.
fn add_json_value_schemas(schemas: &mut Value) {
    let scalars = json!([
        { "type": "null" },
        { "type": "boolean" },
        { "type": "number" },
        { "type": "string", "pattern": NUL_FREE },
    ]);
    schemas["JsonScalar"] = json!({ "description": "A JSON scalar without a NUL character", "anyOf": scalars });
    let mut inner = "JsonScalar".to_owned();
    for level in 1..=JSON_DEPTH {
        let name = if level == JSON_DEPTH { "JsonValue".to_owned() } else { format!("JsonValue{level}") };
        let item = json!({ "$ref": format!("#/components/schemas/{inner}") });
        let mut choices = scalars.as_array().cloned().unwrap_or_default();
        choices.push(json!({ "type": "array", "items": item }));
        choices
            .push(json!({ "type": "object", "patternProperties": { NUL_FREE: item }, "additionalProperties": false }));
        schemas[&name] = json!({
            "description": "Any JSON value without a NUL character in a string or key",
            "anyOf": choices,
        });
        inner = name;
    }
}
