//! The password policy (hashing is the API layer's: it needs a crypto crate).

use crate::validation::Invalid;

/// A password that meets the policy: 10 to 128 characters, not only one repeated character.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 10;
    pub const MAX_LEN: usize = 128;

    /// # Errors
    /// `WeakPassword` when too short or trivially repetitive, `TooLong` past 128 characters.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let len = input.chars().count();
        if len > Self::MAX_LEN {
            return Err(Invalid::TooLong { max: Self::MAX_LEN });
        }
        let mut chars = input.chars();
        let first = chars.next();
        let repetitive = chars.all(|c| Some(c) == first);
        if len < Self::MIN_LEN || repetitive {
            return Err(Invalid::WeakPassword { min: Self::MIN_LEN });
        }
        Ok(Password(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never prints the password.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy() {
        assert!(Password::parse("correct horse battery").is_ok());
        assert_eq!(
            Password::parse("short"),
            Err(Invalid::WeakPassword { min: 10 })
        );
        assert_eq!(
            Password::parse("aaaaaaaaaaaa"),
            Err(Invalid::WeakPassword { min: 10 })
        );
        assert_eq!(
            Password::parse(&"ab".repeat(65)),
            Err(Invalid::TooLong { max: 128 })
        );
    }

    #[test]
    fn debug_hides_the_secret() {
        let p = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }
}
