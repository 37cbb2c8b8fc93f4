//! What makes two customers likely the same: the same normalized email, phone or
//! registration number, or names equal once case, spacing, punctuation and legal-form
//! suffixes are set aside.

/// Legal-form words that do not tell companies apart, longest first.
const LEGAL_FORMS: &[&str] = &[
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "集团",
    "公司",
    "corporation",
    "incorporated",
    "limited",
    "company",
    "gmbh",
    "corp",
    "inc",
    "ltd",
    "llc",
    "plc",
    "co",
    "ag",
    "sa",
    "bv",
];

/// The key under which similar company names collide: `Acme Co., Ltd.` and `ACME` both give
/// `acme`; `深圳张氏科技有限公司` gives `深圳张氏科技`.
pub fn name_key(name: &str) -> String {
    let mut key: String = name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    loop {
        let before = key.len();
        for form in LEGAL_FORMS {
            if key.len() > form.len()
                && let Some(stripped) = key.strip_suffix(form)
            {
                key = stripped.to_owned();
                break;
            }
        }
        if key.len() == before {
            return key;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_names_share_a_key() {
        assert_eq!(name_key("Acme Co., Ltd."), "acme");
        assert_eq!(name_key("ACME"), "acme");
        assert_eq!(name_key("acme corp"), "acme");
        assert_eq!(name_key("深圳张氏科技有限公司"), "深圳张氏科技");
        assert_eq!(name_key("深圳 张氏科技 有限公司"), "深圳张氏科技");
        assert_ne!(name_key("Acme Robotics"), name_key("Acme"));
    }

    #[test]
    fn a_name_that_is_only_a_legal_form_keeps_it() {
        assert_eq!(name_key("Company"), "company");
        assert_eq!(name_key("Co"), "co");
    }
}
