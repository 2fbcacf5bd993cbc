//! The marketplace bodies' field rules that `utoipa`'s attributes cannot state (the items of a list),
//! or that several bodies share, written into the component schemas by JSON pointer: tag lists, the
//! category enum, agent names and descriptions, usernames and webhook URLs, as the profile rules check
//! them (`talon_domain::marketplace::profile`).

use serde_json::{Value, json};
use talon_domain::marketplace::Category;
use talon_domain::marketplace::profile::{BIO_MAX_CHARS, DESCRIPTION_MAX_CHARS};

/// A string with something besides whitespace (the server trims it) and no NUL.
const NOT_BLANK: &str = "^[^\\x00]*[^\\s\\x00][^\\x00]*$";

/// The shape of a URL Talon's webhook target rules take (as `CreateWebhookRequest.url` states it).
const WEBHOOK_URL: &str =
    "^https?://([A-Za-z0-9]+(-+[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-+[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][!-~]*)?$";

/// An optional http(s) link (avatar, project): blank clears it; otherwise the URL shape above.
const LINK: &str = "^\\s*$|^\\s*https?://([A-Za-z0-9]+(-+[A-Za-z0-9]+)*\\.)*[A-Za-z][A-Za-z0-9]*(-+[A-Za-z0-9]+)*(:[0-9]{1,4})?([/?#][!-~]*)?\\s*$";

/// An optional email address: blank clears it; otherwise something, `@`, and a domain with a dot
/// inside it (`profile::check_email`).
const EMAIL: &str = "^\\s*$|^\\s*[^\\s@]+@[^\\s.][^\\s]*\\.[^\\s]*[^\\s.]\\s*$";

/// Bodies with a portfolio item's project link.
const PORTFOLIO_BODIES: [&str; 2] = ["CreateItemRequest", "UpdateItemRequest"];

/// Bodies that register or edit a marketplace profile.
const PROFILE_BODIES: [&str; 4] =
    ["RegisterRequest", "AutonomousRegisterRequest", "UpdateProfileRequest", "ListAgentRequest"];

/// Lists of short tags: at most 20 of 1 to 30 characters (trimmed).
const TAG_LISTS: [&str; 3] = ["skills", "specialties", "languages"];

/// A USDC amount in a request: above zero, at most 999,999,999.999999, at most 6 decimals (a float's
/// binary noise aside: `Micros::from_usdc_f64`).
fn amount_rules() -> Value {
    json!({"exclusiveMinimum": 0, "maximum": 999_999_999.999_999, "multipleOf": 0.000_001})
}

pub fn state_marketplace_rules(schemas: &mut Value) {
    if let Some(schemas) = schemas.as_object_mut() {
        for (name, schema) in schemas.iter_mut() {
            if name == "Usdc" {
                merge_into(schema, amount_rules());
            } else if name.ends_with("Request")
                && let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut)
            {
                for (property, field) in properties.iter_mut() {
                    if property.ends_with("_usdc") && field.get("$ref").is_none() {
                        merge_into(field, amount_rules());
                    }
                }
            }
        }
    }
    let categories: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
    for body in PROFILE_BODIES {
        let Some(properties) = schemas.pointer_mut(&format!("/{body}/properties")) else { continue };
        for list in TAG_LISTS {
            merge(
                properties,
                list,
                json!({"maxItems": 20, "items": {"type": "string", "minLength": 1, "maxLength": 30, "pattern": NOT_BLANK}}),
            );
        }
        merge(properties, "categories", json!({"items": {"type": "string", "enum": categories}}));
        merge(
            properties,
            "name",
            json!({"minLength": 2, "maxLength": 50, "pattern": "^\\s*[^\\s\\x00][^\\x00]*[^\\s\\x00]\\s*$"}),
        );
        merge(properties, "username", json!({"pattern": "^[a-z0-9_-]{3,30}$"}));
        merge(properties, "description", json!({"maxLength": DESCRIPTION_MAX_CHARS}));
        merge(properties, "bio", json!({"maxLength": BIO_MAX_CHARS}));
        merge(properties, "webhook_url", json!({"maxLength": 500, "pattern": WEBHOOK_URL}));
        merge(properties, "avatar_url", json!({"maxLength": 500, "pattern": LINK}));
        merge(properties, "contact_email", json!({"maxLength": 254, "pattern": EMAIL}));
    }
    for body in PORTFOLIO_BODIES {
        let Some(properties) = schemas.pointer_mut(&format!("/{body}/properties")) else { continue };
        merge(properties, "project_url", json!({"maxLength": 500, "pattern": LINK}));
    }
    for (body, min) in [("RegisterRequest", 1), ("AutonomousRegisterRequest", 20)] {
        let Some(properties) = schemas.pointer_mut(&format!("/{body}/properties")) else { continue };
        let pattern = if min == 1 {
            NOT_BLANK.to_owned()
        } else {
            format!("^\\s*[^\\s\\x00][^\\x00]{{{},}}[^\\s\\x00]\\s*$", min - 2)
        };
        merge(properties, "description", json!({"minLength": min, "pattern": pattern}));
        merge(properties, "skills", json!({"minItems": 1}));
        merge(properties, "categories", json!({"minItems": 1}));
    }
}

/// Adds `rules` to the property's schema, keeping what it already says.
fn merge(properties: &mut Value, property: &str, rules: Value) {
    if let Some(schema) = properties.get_mut(property) {
        merge_into(schema, rules);
    }
}

fn merge_into(schema: &mut Value, rules: Value) {
    let Some(schema) = schema.as_object_mut() else { return };
    if let Value::Object(rules) = rules {
        for (key, value) in rules {
            match (schema.get_mut(&key), value) {
                (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                (_, value) => {
                    schema.insert(key, value);
                }
            }
        }
    }
}
