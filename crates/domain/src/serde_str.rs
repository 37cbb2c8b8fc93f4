//! Serde for value types as their canonical string. Deserializing parses, so a stored or
//! received value can never be invalid.

/// Implements `Serialize` (as `as_str()`) and `Deserialize` (through `parse`) for a value
/// type.
macro_rules! serde_as_str {
    ($ty:ty, $parse:expr) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(deserializer)?;
                let parse: fn(&str) -> Result<$ty, $crate::Invalid> = $parse;
                parse(&text).map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
            }
        }
    };
}

pub(crate) use serde_as_str;
