//! Free JSON in a request body (an agent's config, a tool's parameters, a task's input and output, a chat
//! message's parts) nests a bounded number of arrays and objects deep. The bound is what the OpenAPI
//! document spells out level by level (`JsonValue`), so a client that follows the document is never
//! refused and a body the document rules out is never taken.

use serde::de::{Deserialize, Deserializer, Error};
use serde_json::{Map, Value};

use super::Patch;

/// How many levels of arrays and objects a free JSON value may hold below a documented object's own
/// keys (the document's `JsonValue`). Deep enough for a tool's JSON Schema with nested objects of arrays.
pub const JSON_DEPTH: usize = 8;

/// How many arrays and objects deep a value nests: 0 for a scalar, 1 for `{}` or `[1]`.
pub trait Nesting {
    fn nesting(&self) -> usize;
}

impl Nesting for Value {
    fn nesting(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Nesting::nesting).max().unwrap_or(0),
            Value::Object(map) => map.nesting(),
            _ => 0,
        }
    }
}

impl Nesting for Map<String, Value> {
    fn nesting(&self) -> usize {
        1 + self.values().map(Nesting::nesting).max().unwrap_or(0)
    }
}

impl<T: Nesting> Nesting for Option<T> {
    fn nesting(&self) -> usize {
        self.as_ref().map_or(0, Nesting::nesting)
    }
}

impl<T: Nesting> Nesting for Patch<T> {
    fn nesting(&self) -> usize {
        match self {
            Patch::Value(value) => value.nesting(),
            Patch::Absent | Patch::Null => 0,
        }
    }
}

/// For a field documented as a free object: the object and `JSON_DEPTH` levels inside it.
/// Use as `#[serde(deserialize_with = "free_json::object")]` (with `default` on optional fields).
pub fn object<'de, D: Deserializer<'de>, T: Deserialize<'de> + Nesting>(deserializer: D) -> Result<T, D::Error> {
    within(deserializer, JSON_DEPTH + 1)
}

/// For a field documented as a list of free objects.
pub fn objects<'de, D: Deserializer<'de>, T: Deserialize<'de> + Nesting>(deserializer: D) -> Result<T, D::Error> {
    within(deserializer, JSON_DEPTH + 2)
}

fn within<'de, D: Deserializer<'de>, T: Deserialize<'de> + Nesting>(
    deserializer: D,
    levels: usize,
) -> Result<T, D::Error> {
    let value = T::deserialize(deserializer)?;
    if value.nesting() > levels {
        return Err(D::Error::custom(format!("Nests arrays and objects more than {levels} levels deep")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::{Value, json};

    use super::{JSON_DEPTH, Nesting};
    use crate::api::extract::Patch;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "super::object")]
        output: Patch<Value>,
        #[serde(default, deserialize_with = "super::objects")]
        calls: Option<Value>,
    }

    /// `levels` arrays and objects, alternating, around a scalar.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!(1), |inner, level| if level % 2 == 0 { json!([inner]) } else { json!({"k": inner}) })
    }

    #[test]
    fn nesting_counts_containers_on_the_deepest_path() {
        assert_eq!(json!(5).nesting(), 0);
        assert_eq!(json!({}).nesting(), 1);
        assert_eq!(json!({"a": 1, "b": [[1]], "c": [2]}).nesting(), 3);
        assert_eq!(nested(7).nesting(), 7);
    }

    #[test]
    fn an_object_field_takes_its_depth_and_refuses_one_more() {
        let at_limit = json!({ "output": {"k": nested(JSON_DEPTH)} });
        assert!(matches!(serde_json::from_value::<Body>(at_limit), Ok(Body { output: Patch::Value(_), .. })));
        let over = json!({ "output": {"k": nested(JSON_DEPTH + 1)} });
        let err = serde_json::from_value::<Body>(over).unwrap_err().to_string();
        assert!(err.contains(&format!("more than {} levels", JSON_DEPTH + 1)), "{err}");
        assert!(matches!(
            serde_json::from_value::<Body>(json!({"output": null})),
            Ok(Body { output: Patch::Null, .. })
        ));
        assert!(matches!(serde_json::from_value::<Body>(json!({})), Ok(Body { output: Patch::Absent, calls: None })));
    }

    #[test]
    fn a_list_of_objects_takes_one_level_more() {
        let at_limit = json!({ "calls": [{"k": nested(JSON_DEPTH)}] });
        assert!(serde_json::from_value::<Body>(at_limit).is_ok());
        let over = json!({ "calls": [{"k": nested(JSON_DEPTH + 1)}] });
        assert!(serde_json::from_value::<Body>(over).is_err());
    }
}
