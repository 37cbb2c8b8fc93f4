//! Serde for value types as their canonical string. Deserializing parses, so a stored or
//! received value can never be invalid.

/// Implements `Serialize` (as `as_str()`) and `Deserialize` (through `parse`) for a value
/// type. Exported (hidden) for [`crate::string_enum!`], which other crates use.
#[doc(hidden)]
#[macro_export]
macro_rules! serde_as_str {
    ($ty:ty, $parse:expr) => {
        impl $crate::__serde::Serialize for $ty {
            fn serialize<S: $crate::__serde::Serializer>(
                &self,
                serializer: S,
            ) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> $crate::__serde::Deserialize<'de> for $ty {
            fn deserialize<D: $crate::__serde::Deserializer<'de>>(
                deserializer: D,
            ) -> Result<Self, D::Error> {
                let text = <String as $crate::__serde::Deserialize>::deserialize(deserializer)?;
                let parse: fn(&str) -> Result<$ty, $crate::Invalid> = $parse;
                parse(&text)
                    .map_err(|e| $crate::__serde::de::Error::custom(format!("`{text}`: {e}")))
            }
        }
    };
}

pub(crate) use crate::serde_as_str;
