//! The stable `code` of every problem, listed once. Its titles and default details are in
//! [`crate::i18n`], matched exhaustively, so a new code cannot go untitled.

rapport_domain::string_enum! {
    /// The machine-readable `code` of a problem. The strings are public contract: never
    /// change one, add a variant instead.
    pub enum ProblemCode {
        /// 400: malformed JSON, parameters or headers.
        MalformedRequest => "malformed_request",
        /// 400 from the token endpoint.
        UnsupportedGrantType => "unsupported_grant_type",
        /// 400 from the token endpoint: a scope that does not exist or cannot be granted.
        InvalidScope => "invalid_scope",
        /// 401.
        Unauthorized => "unauthorized",
        /// 401 from the token endpoint.
        InvalidCredentials => "invalid_credentials",
        /// 401: a one-time password past its expiry.
        PasswordExpired => "password_expired",
        /// 403: a one-time password must be changed first.
        PasswordChangeRequired => "password_change_required",
        /// 403: a missing scope or a rule of the role.
        Forbidden => "forbidden",
        /// 404.
        NotFound => "not_found",
        /// 405.
        MethodNotAllowed => "method_not_allowed",
        /// 409: a state that forbids the change.
        Conflict => "conflict",
        /// 409: the record exists already.
        Duplicate => "duplicate",
        /// 409: a lifecycle move the rules do not allow.
        InvalidTransition => "invalid_transition",
        /// 409: a batch item's upsert key names more than one record (`matching_ids`).
        AmbiguousMatch => "ambiguous_match",
        SurveyAnswered => "survey_answered",
        QuietPeriod => "quiet_period",
        ConsentWithdrawn => "consent_withdrawn",
        /// 409: email cannot be sent, no SMTP server is configured (`RAPPORT_SMTP_URL`).
        EmailNotConfigured => "email_not_configured",
        /// 409: an automation rule's action has no one to address (a record without an
        /// owner, a team without a manager or members).
        NoRecipient => "no_recipient",
        AlreadyAnswered => "already_answered",
        Expired => "expired",
        /// 409: a redemption or negative adjustment beyond the loyalty balance (`balance`).
        InsufficientPoints => "insufficient_points",
        /// 412.
        PreconditionFailed => "precondition_failed",
        /// 413.
        PayloadTooLarge => "payload_too_large",
        /// 415.
        UnsupportedMediaType => "unsupported_media_type",
        /// 422: fields refused, each named.
        ValidationFailed => "validation_failed",
        /// 422: an `all_or_none` batch with a refused item: nothing was written (`items`).
        BatchFailed => "batch_failed",
        /// 422: an `Idempotency-Key` reused with another request.
        IdempotencyKeyReused => "idempotency_key_reused",
        /// 429.
        RateLimited => "rate_limited",
        /// 503: the database is unreachable.
        ServiceUnavailable => "service_unavailable",
        /// 503: password hashing is saturated.
        ServerBusy => "server_busy",
        /// 500.
        InternalError => "internal_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{self, Lang};

    #[test]
    fn codes_are_unique_snake_case_and_listed_in_order() {
        assert_eq!(ProblemCode::ALL.len(), ProblemCode::NAMES.len());
        for (code, name) in ProblemCode::ALL.iter().zip(ProblemCode::NAMES) {
            assert_eq!(code.as_str(), *name);
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
        }
        let mut names = ProblemCode::NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            ProblemCode::NAMES.len(),
            "a code appears twice"
        );
    }

    #[test]
    fn every_code_is_titled_in_both_languages() {
        for code in ProblemCode::ALL {
            let (en, zh) = (i18n::title(*code, Lang::En), i18n::title(*code, Lang::ZhCn));
            assert!(!en.is_empty() && !zh.is_empty(), "{code}");
            assert_ne!(en, zh, "{code}");
            if let Some(en) = i18n::detail(*code, Lang::En) {
                assert_ne!(Some(en), i18n::detail(*code, Lang::ZhCn), "{code}");
            }
        }
    }

    #[test]
    fn titles_differ_between_codes() {
        let mut titles: Vec<&str> = ProblemCode::ALL
            .iter()
            .map(|c| i18n::title(*c, Lang::En))
            .collect();
        titles.sort_unstable();
        titles.dedup();
        assert_eq!(titles.len(), ProblemCode::ALL.len());
    }
}
