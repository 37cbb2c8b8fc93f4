//! Names of people, companies and things: trimmed, Unicode, length-limited.

use std::fmt;

use crate::validation::Invalid;

/// A non-blank name of at most `MAX` characters, with surrounding and repeated inner
/// whitespace collapsed and no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name<const MAX: usize>(String);

/// A person's or a user's display name.
pub type PersonName = Name<100>;
/// A company's, team's or client's name.
pub type OrgName = Name<200>;
/// A short label or title.
pub type Title = Name<200>;

impl<const MAX: usize> Name<MAX> {
    /// # Errors
    /// `Required` when blank, `TooLong` past `MAX` characters, `InvalidType` with control
    /// characters.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        if input.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            return Err(Invalid::InvalidType);
        }
        let collapsed = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            return Err(Invalid::Required);
        }
        if collapsed.chars().count() > MAX {
            return Err(Invalid::TooLong { max: MAX });
        }
        Ok(Name(collapsed))
    }

    /// `label` followed by `text`, collapsed like [`Name::parse`] and cut to `MAX` characters:
    /// for names the domain composes itself from a fixed label, so never blank.
    pub fn composed(label: &str, text: &str) -> Self {
        let joined = format!("{label}{text}");
        let collapsed = joined.split_whitespace().collect::<Vec<_>>().join(" ");
        Name(
            collapsed
                .chars()
                .take(MAX)
                .collect::<String>()
                .trim_end()
                .to_owned(),
        )
    }

    /// The tombstone that replaces an erased name ([`crate::customer::ERASED`]).
    pub fn tombstone() -> Self {
        Name(crate::customer::ERASED.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl<const MAX: usize> fmt::Display for Name<MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<const MAX: usize> serde::Serialize for Name<MAX> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de, const MAX: usize> serde::Deserialize<'de> for Name<MAX> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Name::parse(&text).map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_collapses() {
        assert_eq!(PersonName::parse("  Li   Lei ").unwrap().as_str(), "Li Lei");
        assert_eq!(
            OrgName::parse("深圳张氏科技有限公司").unwrap().as_str(),
            "深圳张氏科技有限公司"
        );
    }

    #[test]
    fn refuses_blank_long_and_control() {
        assert_eq!(PersonName::parse(" \t "), Err(Invalid::Required));
        assert_eq!(Name::<3>::parse("abcd"), Err(Invalid::TooLong { max: 3 }));
        assert!(
            Name::<3>::parse("张三丰").is_ok(),
            "counts characters, not bytes"
        );
        assert_eq!(PersonName::parse("a\u{0}b"), Err(Invalid::InvalidType));
    }
}
