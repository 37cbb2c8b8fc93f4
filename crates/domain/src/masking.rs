//! Field-level security: which personal fields a role sees masked, and how a masked value
//! looks. `marketing` sees contact phones masked (`+86 138****8000`); `auditor` sees every
//! personal field masked (phones, emails `l***@example.cn`, street lines, registration
//! numbers). The scope `customers:pii` unmasks. A masked value written back is refused.

use crate::auth::Role;
use crate::phone::{Phone, Region};

/// The personal fields to mask for a caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Masking {
    pub phones: bool,
    pub emails: bool,
    /// Street lines and postal codes of addresses.
    pub addresses: bool,
    pub registration_numbers: bool,
}

impl Masking {
    /// Nothing masked.
    pub const NONE: Masking = Masking {
        phones: false,
        emails: false,
        addresses: false,
        registration_numbers: false,
    };

    /// What `role` sees masked without `customers:pii`.
    pub fn for_role(role: Role) -> Masking {
        match role {
            Role::Marketing => Masking {
                phones: true,
                ..Masking::NONE
            },
            Role::Auditor => Masking {
                phones: true,
                emails: true,
                addresses: true,
                registration_numbers: true,
            },
            _ => Masking::NONE,
        }
    }

    pub fn is_none(self) -> bool {
        self == Masking::NONE
    }
}

/// The run of stars that marks a masked value; a value holding it is never accepted as input.
const STARS: &str = "****";

/// Does `value` look like something this module masked?
pub fn is_masked(value: &str) -> bool {
    value.contains("***")
}

/// `+8613800138000` → `+86 138****8000`: the country code, the first three and the last four
/// digits of the national number.
pub fn mask_phone(e164: &str) -> String {
    // E.164 carries its country, so the default region is never used.
    let phone = Region::parse("US").and_then(|region| Phone::parse(e164, region));
    let Ok(phone) = phone else {
        return mask_tail(e164, 4);
    };
    let national = phone.national_digits();
    let code = &phone.digits()[..phone.digits().len() - national.len()];
    let keep = |n: usize| national.len() > n + 4;
    let head = if keep(3) { &national[..3] } else { "" };
    let tail = &national[national.len().saturating_sub(4)..];
    format!("+{code} {head}{STARS}{tail}")
}

/// `li.lei@example.cn` → `l***@example.cn`.
pub fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => STARS.to_owned(),
    }
}

/// Stars, then the last `keep` characters (none of a value that short).
pub fn mask_tail(value: &str, keep: usize) -> String {
    let count = value.chars().count();
    if count <= keep * 2 {
        return STARS.to_owned();
    }
    let tail: String = value.chars().skip(count - keep).collect();
    format!("{STARS}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_keep_their_country_and_both_ends() {
        assert_eq!(mask_phone("+8613800138000"), "+86 138****8000");
        assert_eq!(mask_phone("+14155552671"), "+1 415****2671");
        assert!(is_masked(&mask_phone("+8613800138000")));
        assert_eq!(mask_phone("garbage-1234567"), "****4567");
    }

    #[test]
    fn emails_keep_their_first_letter_and_domain() {
        assert_eq!(mask_email("li.lei@example.cn"), "l***@example.cn");
        assert_eq!(mask_email("张@例子.cn"), "张***@例子.cn");
        assert_eq!(mask_email("nope"), "****");
        assert!(is_masked(&mask_email("a@b.cn")));
    }

    #[test]
    fn free_text_keeps_its_tail_when_long_enough() {
        assert_eq!(mask_tail("91350100M000100Y43", 4), "****0Y43");
        assert_eq!(mask_tail("short", 4), "****");
    }

    #[test]
    fn masked_values_are_refused_as_input() {
        use crate::email::Email;
        use crate::validation::Invalid;
        assert_eq!(Email::parse("l***@example.cn"), Err(Invalid::Masked));
        let cn = Region::parse("CN").unwrap();
        assert_eq!(
            Phone::parse("+86 138****8000", cn).err(),
            Some(Invalid::Masked)
        );
    }

    #[test]
    fn roles_see_what_the_table_says() {
        assert!(Masking::for_role(Role::Marketing).phones);
        assert!(!Masking::for_role(Role::Marketing).emails);
        let auditor = Masking::for_role(Role::Auditor);
        assert!(
            auditor.phones && auditor.emails && auditor.addresses && auditor.registration_numbers
        );
        for role in [
            Role::Admin,
            Role::SalesRep,
            Role::SalesManager,
            Role::ServiceAgent,
        ] {
            assert!(Masking::for_role(role).is_none(), "{role:?}");
        }
    }
}
