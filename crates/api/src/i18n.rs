//! Messages in the caller's language (`Accept-Language`: `en` or `zh-CN`).

use std::borrow::Cow;
use std::fmt;

use rapport_domain::Invalid;

use crate::error::ProblemCode;

/// The languages Rapport answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    ZhCn,
}

impl Lang {
    /// The language a request asks for.
    pub fn of(req: &actix_web::HttpRequest) -> Lang {
        Lang::from_accept_language(
            req.headers()
                .get(actix_web::http::header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
        )
    }

    /// Picks the best supported language of an `Accept-Language` header (RFC 9110 q-values).
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best = (Lang::En, -1.0_f32);
        for part in header.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = pieces
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag == "zh" || tag.starts_with("zh-") {
                Some(Lang::ZhCn)
            } else if tag == "en" || tag.starts_with("en-") || tag == "*" {
                Some(Lang::En)
            } else {
                None
            };
            if let Some(lang) = lang
                && q > best.1
            {
                best = (lang, q);
            }
        }
        best.0
    }

    /// The `Content-Language` value.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::ZhCn => "zh-CN",
        }
    }
}

/// A message written in every language Rapport answers in; the problem middleware picks the
/// caller's. Taking both at once is what keeps a detail from reaching `zh-CN` callers in English.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    en: Cow<'static, str>,
    zh_cn: Cow<'static, str>,
}

impl Text {
    pub fn new(en: impl Into<Cow<'static, str>>, zh_cn: impl Into<Cow<'static, str>>) -> Text {
        Text {
            en: en.into(),
            zh_cn: zh_cn.into(),
        }
    }

    /// The message in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::ZhCn => &self.zh_cn,
        }
    }
}

/// English, for logs and `Display` of errors.
impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}

/// The title of a problem.
pub fn title(code: ProblemCode, lang: Lang) -> &'static str {
    use ProblemCode as C;
    let (en, zh) = match code {
        C::MalformedRequest => ("Malformed request", "请求格式错误"),
        C::Unauthorized => ("Authentication required", "需要身份验证"),
        C::InvalidCredentials => ("Invalid credentials", "凭据无效"),
        C::PasswordExpired => ("Password expired", "密码已过期"),
        C::PasswordChangeRequired => ("Password change required", "需要修改密码"),
        C::UnsupportedGrantType => ("Unsupported grant type", "不支持的授权类型"),
        C::InvalidScope => ("Invalid scope", "无效的权限范围"),
        C::Forbidden => ("Forbidden", "禁止访问"),
        C::NotFound => ("Not found", "未找到"),
        C::MethodNotAllowed => ("Method not allowed", "不允许的方法"),
        C::Conflict => ("Conflict", "冲突"),
        C::Duplicate => ("Duplicate", "重复记录"),
        C::InvalidTransition => ("Transition not allowed", "不允许的状态变更"),
        C::AmbiguousMatch => ("Ambiguous match", "匹配到多条记录"),
        C::BatchFailed => ("Batch refused", "批量操作被拒绝"),
        C::SurveyAnswered => ("Survey already answered", "问卷已有答复"),
        C::QuietPeriod => ("Invited recently", "近期已邀请"),
        C::ConsentWithdrawn => ("Consent withdrawn", "已撤回同意"),
        C::EmailNotConfigured => ("Email not configured", "未配置邮件服务"),
        C::NoRecipient => ("No recipient", "没有接收人"),
        C::AlreadyAnswered => ("Already answered", "已经答复"),
        C::Expired => ("Expired", "已过期"),
        C::InsufficientPoints => ("Insufficient points", "积分不足"),
        C::PreconditionFailed => ("Precondition failed", "前提条件不满足"),
        C::PayloadTooLarge => ("Payload too large", "请求体过大"),
        C::UnsupportedMediaType => ("Unsupported media type", "不支持的媒体类型"),
        C::ValidationFailed => ("Validation failed", "数据校验失败"),
        C::IdempotencyKeyReused => ("Idempotency key reused", "幂等键已被使用"),
        C::RateLimited => ("Too many requests", "请求过于频繁"),
        C::ServiceUnavailable => ("Service unavailable", "服务不可用"),
        C::ServerBusy => ("Server busy", "服务器繁忙"),
        C::InternalError => ("Internal server error", "服务器内部错误"),
    };
    pick(lang, en, zh)
}

/// The default explanation of a problem, for errors that carry none of their own. The codes
/// without one are only answered with a detail of the error's.
pub fn detail(code: ProblemCode, lang: Lang) -> Option<&'static str> {
    use ProblemCode as C;
    let (en, zh) = match code {
        C::MalformedRequest => ("The request could not be parsed.", "无法解析该请求。"),
        C::Unauthorized => (
            "A valid bearer token is required.",
            "需要有效的 Bearer 令牌。",
        ),
        C::InvalidCredentials => ("The credentials are not valid.", "提供的凭据无效。"),
        C::PasswordExpired => (
            "This one-time password has expired; ask an administrator for a new one.",
            "该一次性密码已过期，请联系管理员重新设置。",
        ),
        C::PasswordChangeRequired => (
            "Change the one-time password first (POST /v1/me/password), then sign in again.",
            "请先修改一次性密码（POST /v1/me/password），然后重新登录。",
        ),
        C::Forbidden => (
            "The token does not allow this operation.",
            "该令牌无权执行此操作。",
        ),
        C::NotFound => (
            "No such resource, or it is not visible to you.",
            "资源不存在或您无权查看。",
        ),
        C::MethodNotAllowed => (
            "The method is not allowed on this resource.",
            "该资源不支持此方法。",
        ),
        C::PreconditionFailed => (
            "The resource changed since you read it (If-Match is stale).",
            "资源在您读取后已被修改（If-Match 已过期）。",
        ),
        C::PayloadTooLarge => ("The request body is too large.", "请求体过大。"),
        C::UnsupportedMediaType => (
            "The request body must be JSON (Content-Type: application/json).",
            "请求体必须为 JSON（Content-Type: application/json）。",
        ),
        C::ValidationFailed => ("One or more fields are invalid.", "一个或多个字段无效。"),
        C::IdempotencyKeyReused => (
            "This Idempotency-Key was used with a different request.",
            "该幂等键已用于另一个不同的请求。",
        ),
        C::RateLimited => (
            "Too many attempts; retry after the time in Retry-After.",
            "尝试次数过多，请在 Retry-After 指定的时间后重试。",
        ),
        C::ServiceUnavailable => (
            "The database is unavailable; retry later.",
            "数据库暂不可用，请稍后重试。",
        ),
        C::ServerBusy => (
            "Too many sign-ins are being checked at once; retry after the time in Retry-After.",
            "同时校验的登录请求过多，请在 Retry-After 指定的时间后重试。",
        ),
        C::InternalError => (
            "Something went wrong on our side; quote the request id when reporting it.",
            "服务器出现错误；报告问题时请提供请求 ID。",
        ),
        C::SurveyAnswered => (
            "This survey has answers: create a new version (POST /v1/surveys/{id}/versions) instead.",
            "该问卷已有答复：请创建新版本（POST /v1/surveys/{id}/versions）。",
        ),
        C::QuietPeriod => (
            "This contact was invited to a survey within the survey's quiet period.",
            "该联系人在问卷的免打扰期内已被邀请过。",
        ),
        C::ConsentWithdrawn => (
            "This contact withdrew its consent and is not contacted.",
            "该联系人已撤回同意，不再联系。",
        ),
        C::EmailNotConfigured => (
            "No outgoing mail server is configured (RAPPORT_SMTP_URL): nothing can be emailed.",
            "未配置发信服务器（RAPPORT_SMTP_URL），无法发送邮件。",
        ),
        C::NoRecipient => (
            "The action has no one to address: the record has no owner, or the team no manager or members.",
            "该操作没有可指派的人：记录没有负责人，或团队没有经理或成员。",
        ),
        C::AlreadyAnswered => (
            "This invitation has been answered already.",
            "该邀请已经答复。",
        ),
        C::Expired => ("This invitation has expired.", "该邀请已过期。"),
        C::InsufficientPoints => (
            "The loyalty balance does not cover these points.",
            "积分余额不足以扣除这些积分。",
        ),
        C::AmbiguousMatch => (
            "The upsert key matches more than one record; update them one by one by id.",
            "该更新键匹配到多条记录；请按 ID 逐条更新。",
        ),
        C::BatchFailed => (
            "Some items were refused, and the batch asked for all or none: nothing was written.",
            "部分条目被拒绝，且该批量要求全部成功：未写入任何数据。",
        ),
        C::UnsupportedGrantType
        | C::InvalidScope
        | C::Conflict
        | C::Duplicate
        | C::InvalidTransition => return None,
    };
    Some(pick(lang, en, zh))
}

/// The message of one refused field.
pub fn field_message(invalid: &Invalid, lang: Lang) -> String {
    let zh = lang == Lang::ZhCn;
    match invalid {
        Invalid::Required => t(zh, "This field is required.", "此字段为必填项。"),
        Invalid::TooLong { max } => {
            if zh {
                format!("长度不能超过 {max}。")
            } else {
                format!("At most {max} allowed.")
            }
        }
        Invalid::TooShort { min } => {
            if zh {
                format!("长度不能少于 {min}。")
            } else {
                format!("At least {min} required.")
            }
        }
        Invalid::OutOfRange { min, max } => {
            if zh {
                format!("取值必须在 {min} 到 {max} 之间。")
            } else {
                format!("Must be between {min} and {max}.")
            }
        }
        Invalid::NotOneOf { allowed } => {
            let list = allowed.join(", ");
            if zh {
                format!("取值必须是以下之一：{list}。")
            } else {
                format!("Must be one of: {list}.")
            }
        }
        Invalid::InvalidEmail => t(zh, "Not a valid email address.", "电子邮件地址无效。"),
        Invalid::InvalidPhone => t(zh, "Not a valid phone number.", "电话号码无效。"),
        Invalid::InvalidCountry => t(
            zh,
            "Not an ISO 3166-1 alpha-2 country code.",
            "不是有效的 ISO 3166-1 两位国家代码。",
        ),
        Invalid::InvalidCurrency => t(
            zh,
            "Not an ISO 4217 currency code.",
            "不是有效的 ISO 4217 货币代码。",
        ),
        Invalid::InvalidAmount => t(
            zh,
            "Not a valid amount for this currency (a decimal string).",
            "金额无效（应为符合该货币精度的十进制字符串）。",
        ),
        Invalid::InvalidUrl => t(zh, "Not a valid http(s) URL.", "不是有效的 http(s) 网址。"),
        Invalid::PrivateAddress => t(
            zh,
            "The host is a loopback, private, link-local or metadata address.",
            "该主机是回环、私有、链路本地或元数据地址。",
        ),
        Invalid::UnresolvableHost => t(zh, "The host name does not resolve.", "无法解析该主机名。"),
        Invalid::InvalidEncoding => t(zh, "The file is not UTF-8 text.", "文件不是 UTF-8 文本。"),
        Invalid::InvalidCsv => t(
            zh,
            "The row cannot be read as CSV with the header's columns.",
            "该行无法按表头的列读取为 CSV。",
        ),
        Invalid::EndsBeforeStart => t(
            zh,
            "The end must be after the start.",
            "结束时间必须晚于开始时间。",
        ),
        Invalid::InvalidRegistrationNumber => t(
            zh,
            "Not a valid registration number (checksum or format).",
            "注册号无效（格式或校验位错误）。",
        ),
        Invalid::InvalidTag => t(
            zh,
            "Tags are 1 to 50 letters, digits, '-', '_', '.' or ':'.",
            "标签应为 1 到 50 个字母、数字或 '-'、'_'、'.'、':'。",
        ),
        Invalid::InvalidSlug => t(
            zh,
            "A slug is 1 to 100 lower-case letters and digits, joined by single hyphens.",
            "标识应为 1 到 100 个小写字母和数字，以单个连字符连接。",
        ),
        Invalid::InvalidCode => t(
            zh,
            "A code is 1 to 40 lower-case letters, digits or underscores.",
            "代码应为 1 到 40 个小写字母、数字或下划线。",
        ),
        Invalid::InvalidLanguage => t(
            zh,
            "Not a language tag (such as `en` or `zh-CN`).",
            "不是有效的语言标记（如 `en` 或 `zh-CN`）。",
        ),
        Invalid::InvalidUuid => t(zh, "Not a valid id.", "ID 无效。"),
        Invalid::InvalidDate => t(zh, "Not a valid date or time.", "日期或时间无效。"),
        Invalid::InvalidStages => t(
            zh,
            "A pipeline lists every stage it keeps, with exactly one `won` stage and at least one `lost` and one `open` stage; remove a stage with DELETE /v1/pipelines/{id}/stages/{stage_id}.",
            "管道须列出保留的全部阶段，且恰有一个 `won` 阶段、至少一个 `lost` 和一个 `open` 阶段；删除阶段请用 DELETE /v1/pipelines/{id}/stages/{stage_id}。",
        ),
        Invalid::InvalidQuantity => t(
            zh,
            "Not a positive decimal string with at most 4 decimals (\"2.5\").",
            "不是最多 4 位小数的正数字符串（\"2.5\"）。",
        ),
        Invalid::InvalidPercent => t(
            zh,
            "Not a percentage from 0 to 100 as a decimal string with at most 4 decimals (\"13\").",
            "不是 0 到 100、最多 4 位小数的百分比字符串（\"13\"）。",
        ),
        Invalid::Duplicate => t(zh, "This value appears more than once.", "该值重复出现。"),
        Invalid::UnknownReference => t(zh, "No such record.", "引用的记录不存在。"),
        Invalid::NotAllowed => t(zh, "You may not set this field.", "您无权设置此字段。"),
        Invalid::UnknownField => t(zh, "Unknown field.", "未知字段。"),
        Invalid::InvalidType => t(zh, "Wrong type for this field.", "字段类型错误。"),
        Invalid::Incorrect => t(zh, "This is not correct.", "该值不正确。"),
        Invalid::WeakPassword { min } => {
            if zh {
                format!("密码至少需要 {min} 个字符，且不能只由同一字符组成。")
            } else {
                format!("Use at least {min} characters, not all the same.")
            }
        }
        Invalid::Masked => t(
            zh,
            "This is a masked value; send the real one or leave the field out.",
            "这是脱敏后的值；请提交真实值或不要包含该字段。",
        ),
    }
}

fn t(zh: bool, en: &str, zh_text: &str) -> String {
    if zh {
        zh_text.to_owned()
    } else {
        en.to_owned()
    }
}

fn pick(lang: Lang, en: &'static str, zh: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::ZhCn => zh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_language_by_q_value() {
        assert_eq!(Lang::from_accept_language(None), Lang::En);
        assert_eq!(Lang::from_accept_language(Some("zh-CN")), Lang::ZhCn);
        assert_eq!(
            Lang::from_accept_language(Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::ZhCn
        );
        assert_eq!(
            Lang::from_accept_language(Some("en;q=0.9, zh;q=0.5")),
            Lang::En
        );
        assert_eq!(Lang::from_accept_language(Some("fr")), Lang::En);
    }

    #[test]
    fn every_field_code_has_both_languages() {
        for invalid in [
            Invalid::Required,
            Invalid::InvalidPhone,
            Invalid::TooLong { max: 3 },
            Invalid::Masked,
        ] {
            assert_ne!(
                field_message(&invalid, Lang::En),
                field_message(&invalid, Lang::ZhCn)
            );
        }
    }
}
