//! `Patch<T>`: a field of a partial update — absent (keep), `null` (clear) or a value (set).

use rapport_domain::Invalid;
use rapport_domain::validation::Errors;
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

    /// The new value of a field that cannot be cleared: `null` is refused at `field`.
    pub fn into_required(self, errors: &mut Errors, field: &str) -> Option<T> {
        match self {
            Patch::Absent => None,
            Patch::Null => {
                errors.add(field, Invalid::Required);
                None
            }
            Patch::Value(v) => Some(v),
        }
    }

    /// Sets a collection (tags, addresses, …) read by `parse`, which records its own errors
    /// with their paths; `null` empties it. On an error `slot` keeps its value.
    pub fn collection<V: Default>(
        self,
        errors: &mut Errors,
        slot: &mut V,
        parse: impl FnOnce(T, &mut Errors) -> Option<V>,
    ) {
        match self {
            Patch::Absent => {}
            Patch::Null => *slot = V::default(),
            Patch::Value(v) => {
                if let Some(value) = parse(v, errors) {
                    *slot = value;
                }
            }
        }
    }
}

impl Patch<String> {
    /// Sets a field that cannot be cleared: `null` is refused, a value is parsed into
    /// `slot`; each error is recorded at `field` and leaves `slot` as it was.
    pub fn required<V>(
        self,
        errors: &mut Errors,
        field: &str,
        slot: &mut V,
        parse: impl FnOnce(&str) -> Result<V, Invalid>,
    ) {
        if let Some(value) = self
            .into_required(errors, field)
            .and_then(|v| errors.check(field, parse(&v)))
        {
            *slot = value;
        }
    }

    /// Sets a field that can be cleared: `null` clears it, a value is parsed into `slot`;
    /// an error is recorded at `field` and leaves `slot` as it was.
    pub fn optional<V>(
        self,
        errors: &mut Errors,
        field: &str,
        slot: &mut Option<V>,
        parse: impl FnOnce(&str) -> Result<V, Invalid>,
    ) {
        match self {
            Patch::Absent => {}
            Patch::Null => *slot = None,
            Patch::Value(v) => {
                if let Some(value) = errors.check(field, parse(&v)) {
                    *slot = Some(value);
                }
            }
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

    fn parse_small(v: &str) -> Result<u8, Invalid> {
        v.parse::<u8>().map_err(|_| Invalid::InvalidType)
    }

    #[test]
    fn required_refuses_null_and_keeps_the_value_on_an_error() {
        let mut errors = Errors::default();
        let mut slot = 1;
        Patch::Value("7".to_owned()).required(&mut errors, "a", &mut slot, parse_small);
        assert_eq!(slot, 7);
        Patch::Value("x".to_owned()).required(&mut errors, "b", &mut slot, parse_small);
        Patch::Null.required(&mut errors, "c", &mut slot, parse_small);
        Patch::Absent.required(&mut errors, "d", &mut slot, parse_small);
        assert_eq!(slot, 7);
        let fields: Vec<_> = errors.finish().unwrap_err().into_errors();
        let fields: Vec<_> = fields
            .iter()
            .map(|e| (e.field.as_str(), e.invalid.code()))
            .collect();
        assert_eq!(fields, [("b", "invalid_type"), ("c", "required")]);
    }

    #[test]
    fn optional_clears_on_null_and_collects_errors() {
        let mut errors = Errors::default();
        let mut slot = Some(1);
        Patch::Null.optional(&mut errors, "a", &mut slot, parse_small);
        assert_eq!(slot, None);
        Patch::Value("300".to_owned()).optional(&mut errors, "a", &mut slot, parse_small);
        assert_eq!(slot, None);
        Patch::Value("3".to_owned()).optional(&mut errors, "a", &mut slot, parse_small);
        assert_eq!(slot, Some(3));
        assert_eq!(errors.finish().unwrap_err().errors().len(), 1);
    }

    #[test]
    fn collections_empty_on_null_and_keep_their_value_on_an_error() {
        let mut errors = Errors::default();
        let mut tags = vec![1, 2];
        Patch::Value(vec![9]).collection(&mut errors, &mut tags, |v, _| Some(v));
        assert_eq!(tags, [9]);
        Patch::Value(vec![5]).collection(&mut errors, &mut tags, |_, e| {
            e.add("tags[0]", Invalid::InvalidType);
            None
        });
        assert_eq!(tags, [9]);
        Patch::Null.collection(&mut errors, &mut tags, |v: Vec<i32>, _| Some(v));
        assert!(tags.is_empty());
        assert_eq!(errors.finish().unwrap_err().errors().len(), 1);
    }
}
