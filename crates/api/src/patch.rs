//! `Patch<T>`: a field of a partial update — absent (keep), `null` (clear) or a value (set).

use serde::{Deserialize, Deserializer};

/// One field of a `PATCH` body. Use with `#[serde(default)]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Patch<T> {
    /// Not in the body: keep the stored value.
    #[default]
    Absent,
    /// `null`: clear the stored value.
    Null,
    /// A new value.
    Value(T),
}

impl<T> Patch<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Patch::Absent)
    }

    /// Applies the patch to an optional stored value.
    pub fn apply_to(self, current: Option<T>) -> Option<T> {
        match self {
            Patch::Absent => current,
            Patch::Null => None,
            Patch::Value(v) => Some(v),
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Absent => Patch::Absent,
            Patch::Null => Patch::Null,
            Patch::Value(v) => Patch::Value(f(v)),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<T>::deserialize(deserializer).map(|v| v.map_or(Patch::Null, Patch::Value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        team_id: Patch<u32>,
    }

    #[test]
    fn tells_absent_null_and_value_apart() {
        let parse = |s: &str| serde_json::from_str::<Body>(s).unwrap().team_id;
        assert_eq!(parse("{}"), Patch::Absent);
        assert_eq!(parse(r#"{"team_id":null}"#), Patch::Null);
        assert_eq!(parse(r#"{"team_id":7}"#), Patch::Value(7));
        assert_eq!(Patch::Null.apply_to(Some(1)), None);
        assert_eq!(Patch::<u32>::Absent.apply_to(Some(1)), Some(1));
    }
}
