//! Free-form tags on customers (`key-account`, `2026-expo`, `渠道:展会`).

use std::fmt;

use crate::validation::{Errors, Invalid, index};

/// A tag: trimmed and lower-cased, so that `Key-Account` and `key-account` are one tag;
/// 1 to [`Tag::MAX_LEN`] Unicode letters and digits plus `-`, `_`, `.` and `:`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag(String);

impl Tag {
    pub const MAX_LEN: usize = 50;
    /// The most tags one record carries.
    pub const MAX_TAGS: usize = 50;

    /// # Errors
    /// `Required` when blank, `TooLong` past 50 characters, `InvalidTag` for any other
    /// character (spaces inside included).
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let tag = input.trim().to_lowercase();
        if tag.is_empty() {
            return Err(Invalid::Required);
        }
        if tag.chars().count() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        if !tag
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            return Err(Invalid::InvalidTag);
        }
        Ok(Tag(tag))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Tag {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Reads a list of tags sent at `field`, recording each bad one at `field[i]`, and keeps the
/// valid ones in order with duplicates (after normalization) dropped.
///
/// More than [`Tag::MAX_TAGS`] inputs are refused as a whole with `TooLong { max: 50 }` at
/// `field`, without looking at the items.
pub fn parse_tags(inputs: &[String], field: &str, errors: &mut Errors) -> Vec<Tag> {
    if inputs.len() > Tag::MAX_TAGS {
        errors.add(field, Invalid::TooLong { max: Tag::MAX_TAGS });
        return Vec::new();
    }
    let mut tags: Vec<Tag> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        if let Some(tag) = errors.check(index(field, i), Tag::parse(input))
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
    }
    tags
}

crate::serde_str::serde_as_str!(Tag, Tag::parse);

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn trims_and_lowercases() {
        assert_eq!(Tag::parse(" Key-Account ").unwrap().as_str(), "key-account");
        assert_eq!(Tag::parse("2026-expo").unwrap().as_str(), "2026-expo");
        assert_eq!(
            Tag::parse("region:East_China").unwrap().as_str(),
            "region:east_china"
        );
        assert_eq!(Tag::parse("v1.2").unwrap().as_str(), "v1.2");
        assert_eq!(Tag::parse("渠道:展会").unwrap().as_str(), "渠道:展会");
        assert_eq!(Tag::parse("Ärzte").unwrap().as_str(), "ärzte");
    }

    #[test]
    fn refuses_bad_tags() {
        for bad in [
            "key account",
            "#vip",
            "a/b",
            "a,b",
            "emoji🙂",
            "tab\there",
            "a\u{0}",
        ] {
            assert_eq!(Tag::parse(bad), Err(Invalid::InvalidTag), "{bad}");
        }
        assert_eq!(Tag::parse("  "), Err(Invalid::Required));
        assert_eq!(
            Tag::parse(&"a".repeat(51)),
            Err(Invalid::TooLong { max: 50 })
        );
        assert!(
            Tag::parse(&"标".repeat(50)).is_ok(),
            "counts characters, not bytes"
        );
    }

    #[test]
    fn lists_drop_duplicates_and_report_each_bad_item() {
        let mut errors = Errors::default();
        let inputs = strings(&["VIP", "bad tag", "vip", " expo ", ""]);
        let tags = parse_tags(&inputs, "tags", &mut errors);
        let names: Vec<&str> = tags.iter().map(Tag::as_str).collect();
        assert_eq!(names, ["vip", "expo"]);
        let errors = errors.finish().unwrap_err();
        let fields: Vec<(&str, &Invalid)> = errors
            .errors()
            .iter()
            .map(|e| (e.field.as_str(), &e.invalid))
            .collect();
        assert_eq!(
            fields,
            [
                ("tags[1]", &Invalid::InvalidTag),
                ("tags[4]", &Invalid::Required)
            ]
        );
    }

    #[test]
    fn at_most_fifty_tags() {
        let fifty: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        let mut errors = Errors::default();
        assert_eq!(parse_tags(&fifty, "tags", &mut errors).len(), 50);
        assert!(errors.is_empty());

        let fifty_one: Vec<String> = (0..51).map(|i| format!("t{i}")).collect();
        let mut errors = Errors::default();
        assert!(parse_tags(&fifty_one, "tags", &mut errors).is_empty());
        let errors = errors.finish().unwrap_err();
        assert_eq!(errors.errors()[0].field, "tags");
        assert_eq!(errors.errors()[0].invalid, Invalid::TooLong { max: 50 });
    }
}
