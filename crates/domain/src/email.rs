//! Email addresses: checked and lower-cased.

use std::fmt;

use validator::ValidateEmail;

use crate::validation::Invalid;

/// A syntactically valid email address (HTML5 rules), trimmed and lower-cased, so that two
/// spellings of one address compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    /// # Errors
    /// `Required` when blank, `TooLong` past 254 characters, `InvalidEmail` otherwise.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Invalid::Required);
        }
        if crate::masking::is_masked(trimmed) {
            return Err(Invalid::Masked);
        }
        if trimmed.chars().count() > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        let lowered = trimmed.to_lowercase();
        // The HTML5 grammar accepts a dotless domain (`a@localhost`); a CRM address needs one
        // that mail can reach.
        let domain_has_dot = lowered
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.contains('.'));
        if !lowered.validate_email() || !domain_has_dot {
            return Err(Invalid::InvalidEmail);
        }
        Ok(Email(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

crate::serde_str::serde_as_str!(Email, Email::parse);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_lowercases() {
        assert_eq!(
            Email::parse(" Li.Lei@Example.CN ").unwrap().as_str(),
            "li.lei@example.cn"
        );
        assert!(Email::parse("a+tag@sub.example.com").is_ok());
        assert!(
            Email::parse("li@例子.中国").is_ok(),
            "internationalized domains"
        );
    }

    #[test]
    fn refuses_bad_addresses() {
        for bad in [
            "plain",
            "@example.com",
            "a@",
            "a b@example.com",
            "a@localhost",
            "a@@b.cn",
        ] {
            assert_eq!(Email::parse(bad), Err(Invalid::InvalidEmail), "{bad}");
        }
        assert_eq!(Email::parse("   "), Err(Invalid::Required));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(Invalid::TooLong { max: 254 }));
    }
}
