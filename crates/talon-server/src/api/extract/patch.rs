//! `Patch<T>`: a PATCH body's field in three states, so that "leave it", "clear it" and "set it" are
//! three different requests.

use serde::{Deserialize, Deserializer};

/// Absent (the field was not sent: keep the stored value), `null` (clear it) or a value (set it).
/// Fields of this type need `#[serde(default)]`, which is what makes a missing field `Absent`, and
/// `#[schema(value_type = Option<T>)]`, which documents them as nullable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Patch<T> {
    /// What to do with the stored value: `None` leaves it, `Some(None)` clears it, `Some(Some(v))` sets it.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(value) => Some(Some(value)),
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }
}

impl Patch<serde_json::Value> {
    /// Free JSON to store: `None` leaves the stored value, and an explicit `null` is kept as JSON null.
    pub fn into_json(self) -> Option<serde_json::Value> {
        self.into_change().map(|value| value.unwrap_or(serde_json::Value::Null))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Patch::Null, Patch::Value))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::Patch;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        description: Patch<String>,
    }

    #[test]
    fn absent_null_and_value_are_three_states() {
        let parse = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.description).ok();
        assert_eq!(parse("{}"), Some(Patch::Absent));
        assert_eq!(parse(r#"{"description": null}"#), Some(Patch::Null));
        assert_eq!(parse(r#"{"description": "x"}"#), Some(Patch::Value("x".to_owned())));
        assert_eq!(parse(r#"{"description": 5}"#), None);
        assert_eq!(Patch::Value(1).into_change(), Some(Some(1)));
        assert_eq!(Patch::<i32>::Null.into_change(), Some(None));
        assert_eq!(Patch::<i32>::Absent.into_change(), None);
    }
}
