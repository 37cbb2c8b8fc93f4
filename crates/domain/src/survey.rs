//! Satisfaction surveys: ordered questions tagged by dimension, one-time invitations to a
//! contact, answers checked against their questions, and the scores computed from them (CSAT,
//! NPS, per-dimension averages).
//!
//! A survey that has answers is never edited in place: it is versioned (a new survey with the
//! next `revision`), so that the answers of one survey always answered the same questions.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::Value;
use uuid::Uuid;

use crate::article::Language;
use crate::contact::MarketingConsent;
use crate::enums::Grade;
use crate::name::{Name, Title};
use crate::report::{ratio, rounded};
use crate::ticket::{TicketCategory, TicketChannel, TicketText};
use crate::validation::{Errors, Invalid, ValidationErrors, index, path};

/// A question's text.
pub type QuestionText = Name<500>;

/// The most questions a survey holds, and options a choice question offers.
pub const MAX_QUESTIONS: usize = 50;
pub const MAX_OPTIONS: usize = 20;
/// The longest free-text answer, in characters.
pub const MAX_TEXT_ANSWER: usize = 2000;

crate::string_enum! {
    /// What a question asks for.
    pub enum QuestionKind {
        /// Customer satisfaction, 1 to 5.
        Csat => "csat",
        /// Net promoter score, 0 to 10.
        Nps => "nps",
        /// 1 to the question's `max`.
        Rating => "rating",
        SingleChoice => "single_choice",
        MultiChoice => "multi_choice",
        Text => "text",
    }
}

crate::string_enum! {
    /// Where an invitation stands.
    pub enum InvitationStatus {
        Sent => "sent",
        Opened => "opened",
        Answered => "answered",
        Expired => "expired",
    }
}

crate::string_enum! {
    /// What a trigger answers to.
    pub enum SurveyEvent {
        TicketResolved => "ticket_resolved",
        OpportunityWon => "opportunity_won",
        OrderFulfilled => "order_fulfilled",
        /// Every quarter, the primary contact of each active customer.
        Quarterly => "quarterly",
    }
}

crate::string_enum! {
    /// How an invitation came to be sent.
    pub enum InvitationOrigin {
        Manual => "manual",
        TicketResolved => "ticket_resolved",
        OpportunityWon => "opportunity_won",
        OrderFulfilled => "order_fulfilled",
        Quarterly => "quarterly",
    }
}

impl From<SurveyEvent> for InvitationOrigin {
    fn from(e: SurveyEvent) -> Self {
        match e {
            SurveyEvent::TicketResolved => InvitationOrigin::TicketResolved,
            SurveyEvent::OpportunityWon => InvitationOrigin::OpportunityWon,
            SurveyEvent::OrderFulfilled => InvitationOrigin::OrderFulfilled,
            SurveyEvent::Quarterly => InvitationOrigin::Quarterly,
        }
    }
}

crate::string_enum! {
    /// Why a contact was not invited.
    pub enum SkipReason {
        /// It was invited (by any survey) within the survey's quiet period.
        QuietPeriod => "quiet_period",
        /// It withdrew its consent.
        ConsentWithdrawn => "consent_withdrawn",
        /// The customer has no primary contact.
        NoContact => "no_contact",
        /// No such contact, or none the caller sees.
        NotFound => "not_found",
    }
}

crate::string_enum! {
    /// What results are broken down by.
    pub enum ResultGroup {
        /// The ticket's assignee, the opportunity's or the customer's owner when invited.
        Agent => "agent",
        Team => "team",
        /// The ticket's channel.
        Channel => "channel",
        /// The ticket's category.
        Category => "category",
        /// The customer's grade when invited.
        Grade => "grade",
    }
}

/// A question's, option's or dimension's code: lower-case letters, digits and underscores, up
/// to 40 characters.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Code(String);

impl Code {
    /// # Errors
    /// `Required` when empty, `InvalidCode` otherwise.
    pub fn parse(input: &str) -> Result<Code, Invalid> {
        if input.is_empty() {
            return Err(Invalid::Required);
        }
        let ok = input.len() <= 40
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Code(input.to_owned()))
        } else {
            Err(Invalid::InvalidCode)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Code {
    type Error = Invalid;
    fn try_from(s: String) -> Result<Self, Invalid> {
        Code::parse(&s)
    }
}

impl From<Code> for String {
    fn from(c: Code) -> String {
        c.0
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The dimension of a question that names none.
pub const OVERALL: &str = "overall";

/// One answer a choice question offers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChoiceOption {
    pub code: Code,
    pub label: Title,
}

/// One question of a survey.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Question {
    pub id: Code,
    pub kind: QuestionKind,
    pub text: QuestionText,
    pub required: bool,
    /// What it measures: `overall`, `response_speed`, `problem_solving`, `product`, `staff`,
    /// or a code of the company's own.
    pub dimension: Code,
    /// A rating's top value (2 to 10).
    pub max: Option<i64>,
    /// A choice question's options (2 to 20).
    pub options: Vec<ChoiceOption>,
}

impl Question {
    /// The lowest and highest value of a numeric question.
    pub fn scale(&self) -> Option<(i64, i64)> {
        match self.kind {
            QuestionKind::Csat => Some((1, 5)),
            QuestionKind::Nps => Some((0, 10)),
            QuestionKind::Rating => Some((1, self.max.unwrap_or(5))),
            _ => None,
        }
    }

    fn offers(&self, code: &str) -> bool {
        self.options.iter().any(|o| o.code.as_str() == code)
    }
}

/// A question as sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawQuestion<'a> {
    pub id: Option<&'a str>,
    pub kind: Option<&'a str>,
    pub text: Option<&'a str>,
    pub required: Option<bool>,
    pub dimension: Option<&'a str>,
    pub max: Option<i64>,
    /// `(code, label)` of each option.
    pub options: Option<&'a [(Option<&'a str>, Option<&'a str>)]>,
}

/// Reads a survey's questions, naming each bad field under `questions[i]`.
pub fn parse_questions(raw: &[RawQuestion<'_>], errors: &mut Errors) -> Option<Vec<Question>> {
    if raw.is_empty() {
        errors.add("questions", Invalid::Required);
        return None;
    }
    if raw.len() > MAX_QUESTIONS {
        errors.add("questions", Invalid::TooLong { max: MAX_QUESTIONS });
        return None;
    }
    let mut seen = HashSet::new();
    let mut questions = Vec::with_capacity(raw.len());
    let mut all_good = true;
    for (i, q) in raw.iter().enumerate() {
        let at = index("questions", i);
        match parse_question(q, i, &at, errors) {
            Some(question) => {
                if !seen.insert(question.id.clone()) {
                    errors.add(path(&at, "id"), Invalid::Duplicate);
                    all_good = false;
                }
                questions.push(question);
            }
            None => all_good = false,
        }
    }
    all_good.then_some(questions)
}

fn parse_question(
    q: &RawQuestion<'_>,
    position: usize,
    at: &str,
    errors: &mut Errors,
) -> Option<Question> {
    let id = match q.id {
        Some(id) => errors.check(path(at, "id"), Code::parse(id)),
        None => Some(Code(format!("q{}", position + 1))),
    };
    let kind = errors.required(path(at, "kind"), q.kind, QuestionKind::parse);
    let text = errors.required(path(at, "text"), q.text, QuestionText::parse);
    let dimension = errors.check(
        path(at, "dimension"),
        Code::parse(q.dimension.unwrap_or(OVERALL)),
    );
    let max = match (kind, q.max) {
        // An unknown kind is the error to report; its scale can wait.
        (None, _) => None,
        (Some(QuestionKind::Rating), None) => {
            errors.add(path(at, "max"), Invalid::Required);
            None
        }
        (Some(QuestionKind::Rating), Some(max)) if !(2..=10).contains(&max) => {
            errors.add(path(at, "max"), Invalid::OutOfRange { min: 2, max: 10 });
            None
        }
        (Some(QuestionKind::Rating), Some(max)) => Some(Some(max)),
        (_, Some(_)) => {
            errors.add(path(at, "max"), Invalid::NotAllowed);
            None
        }
        (_, None) => Some(None),
    };
    let choice = matches!(
        kind,
        Some(QuestionKind::SingleChoice | QuestionKind::MultiChoice)
    );
    let options = match (choice, q.options) {
        (true, None) => {
            errors.add(path(at, "options"), Invalid::Required);
            None
        }
        (true, Some(raw)) => parse_options(raw, &path(at, "options"), errors),
        (false, Some(raw)) if !raw.is_empty() => {
            errors.add(path(at, "options"), Invalid::NotAllowed);
            None
        }
        (false, _) => Some(Vec::new()),
    };
    Some(Question {
        id: id?,
        kind: kind?,
        text: text?,
        required: q.required.unwrap_or(true),
        dimension: dimension?,
        max: max?,
        options: options?,
    })
}

fn parse_options(
    raw: &[(Option<&str>, Option<&str>)],
    at: &str,
    errors: &mut Errors,
) -> Option<Vec<ChoiceOption>> {
    if raw.len() < 2 {
        errors.add(at, Invalid::TooShort { min: 2 });
        return None;
    }
    if raw.len() > MAX_OPTIONS {
        errors.add(at, Invalid::TooLong { max: MAX_OPTIONS });
        return None;
    }
    let mut seen = HashSet::new();
    let mut options = Vec::with_capacity(raw.len());
    let mut all_good = true;
    for (i, (code, label)) in raw.iter().enumerate() {
        let at = index(at, i);
        let code = errors.required(path(&at, "code"), *code, Code::parse);
        let label = errors.required(path(&at, "label"), *label, Title::parse);
        if let Some(c) = &code
            && !seen.insert(c.clone())
        {
            errors.add(path(&at, "code"), Invalid::Duplicate);
            all_good = false;
        }
        match (code, label) {
            (Some(code), Some(label)) => options.push(ChoiceOption { code, label }),
            _ => all_good = false,
        }
    }
    all_good.then_some(options)
}

/// The value of one answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AnswerValue {
    Number(i64),
    Text(String),
    Choices(Vec<Code>),
}

/// An answer to one question.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    pub question_id: Code,
    pub value: AnswerValue,
}

/// A questionnaire.
#[derive(Debug, Clone, PartialEq)]
pub struct Survey {
    pub id: Uuid,
    pub title: Title,
    pub language: Language,
    pub questions: Vec<Question>,
    /// 1, then one more for each new version.
    pub revision: i32,
    /// The survey this one is a new version of.
    pub previous_id: Option<Uuid>,
    /// The newer version that replaced this one: it sends no new invitations.
    pub superseded_by_id: Option<Uuid>,
    /// How long an invitation stays answerable.
    pub expires_in_days: i64,
    /// A contact invited (by any survey) within this many days is not invited again.
    pub quiet_days: i64,
    /// A CSAT answer at most this opens a follow-up ticket (`None`: never).
    pub follow_up_csat_at_most: Option<i64>,
    /// An NPS answer at most this opens a follow-up ticket (`None`: never).
    pub follow_up_nps_at_most: Option<i64>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// The bounds of a survey's settings.
pub const EXPIRES_IN_DAYS: std::ops::RangeInclusive<i64> = 1..=365;
pub const QUIET_DAYS: std::ops::RangeInclusive<i64> = 0..=365;

/// Checks that `value` lies in `range`.
///
/// # Errors
/// `OutOfRange` otherwise.
pub fn within(range: std::ops::RangeInclusive<i64>, value: i64) -> Result<i64, Invalid> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::OutOfRange {
            min: *range.start(),
            max: *range.end(),
        })
    }
}

impl Survey {
    /// Reads answers sent as `(question_id, value)`: every question answered at most once,
    /// each value of its question's kind, every required question answered. Errors name
    /// `answers.<question_id>`, or `answers[i].question_id` for an unknown question.
    ///
    /// # Errors
    /// Every refused answer.
    pub fn check_answers(
        &self,
        raw: &[(Option<&str>, &Value)],
    ) -> Result<Vec<Answer>, ValidationErrors> {
        let mut errors = Errors::default();
        let mut given: BTreeMap<&str, &Value> = BTreeMap::new();
        for (i, (question_id, value)) in raw.iter().enumerate() {
            let at = path(&index("answers", i), "question_id");
            match question_id {
                None => errors.add(at, Invalid::Required),
                Some(id) if !self.questions.iter().any(|q| q.id.as_str() == *id) => {
                    errors.add(at, Invalid::UnknownReference);
                }
                Some(id) => {
                    if given.insert(id, value).is_some() {
                        errors.add(at, Invalid::Duplicate);
                    }
                }
            }
        }
        let mut answers = Vec::new();
        for q in &self.questions {
            let at = path("answers", q.id.as_str());
            match given.get(q.id.as_str()).copied().filter(|v| !is_blank(v)) {
                None if q.required => errors.add(at, Invalid::Required),
                None => {}
                Some(value) => match read_value(q, value) {
                    Ok(value) => answers.push(Answer {
                        question_id: q.id.clone(),
                        value,
                    }),
                    Err(invalid) => errors.add(at, invalid),
                },
            }
        }
        errors.finish()?;
        Ok(answers)
    }

    /// Whether `answers` hold a score low enough to follow up.
    pub fn needs_follow_up(&self, answers: &[Answer]) -> bool {
        self.numeric(answers).any(|(q, v)| match q.kind {
            QuestionKind::Csat => self.follow_up_csat_at_most.is_some_and(|at| v <= at),
            QuestionKind::Nps => self.follow_up_nps_at_most.is_some_and(|at| v <= at),
            _ => false,
        })
    }

    /// Each numeric answer with its question.
    fn numeric<'a>(&'a self, answers: &'a [Answer]) -> impl Iterator<Item = (&'a Question, i64)> {
        answers.iter().filter_map(|a| match a.value {
            AnswerValue::Number(v) => self.question(&a.question_id).map(|q| (q, v)),
            _ => None,
        })
    }

    /// The question `id`.
    pub fn question(&self, id: &Code) -> Option<&Question> {
        self.questions.iter().find(|q| &q.id == id)
    }

    /// The subject of the ticket that follows up a low score.
    pub fn follow_up_subject(&self) -> Title {
        Title::composed("Low satisfaction score: ", self.title.as_str())
    }

    /// The description of the ticket that follows up a low score: every answer.
    pub fn follow_up_text(&self, answers: &[Answer]) -> TicketText {
        TicketText::composed("", &self.summary(answers))
    }

    /// Every answer on one line, with its question: `Answers to "…": How fast? 2/5; …`.
    fn summary(&self, answers: &[Answer]) -> String {
        let mut lines = vec![format!("Answers to \"{}\":", self.title.as_str())];
        for a in answers {
            let Some(q) = self.questions.iter().find(|q| q.id == a.question_id) else {
                continue;
            };
            let value = match &a.value {
                AnswerValue::Number(v) => match q.scale() {
                    Some((_, max)) => format!("{v}/{max}"),
                    None => v.to_string(),
                },
                AnswerValue::Text(t) => t.clone(),
                AnswerValue::Choices(c) => {
                    c.iter().map(Code::as_str).collect::<Vec<_>>().join(", ")
                }
            };
            lines.push(format!("{}: {value}", q.text.as_str()));
        }
        lines.join("; ")
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn read_value(q: &Question, value: &Value) -> Result<AnswerValue, Invalid> {
    if let Some((min, max)) = q.scale() {
        let n = value.as_i64().ok_or(Invalid::InvalidType)?;
        return if (min..=max).contains(&n) {
            Ok(AnswerValue::Number(n))
        } else {
            Err(Invalid::OutOfRange { min, max })
        };
    }
    let choice = |v: &Value| -> Result<Code, Invalid> {
        let code = v.as_str().ok_or(Invalid::InvalidType)?;
        if q.offers(code) {
            Code::parse(code)
        } else {
            Err(Invalid::NotAllowed)
        }
    };
    match q.kind {
        QuestionKind::SingleChoice => Ok(AnswerValue::Choices(vec![choice(value)?])),
        QuestionKind::MultiChoice => {
            let items = value.as_array().ok_or(Invalid::InvalidType)?;
            let mut codes: Vec<Code> = items.iter().map(choice).collect::<Result<_, _>>()?;
            codes.sort();
            let before = codes.len();
            codes.dedup();
            if codes.len() == before {
                Ok(AnswerValue::Choices(codes))
            } else {
                Err(Invalid::Duplicate)
            }
        }
        _ => {
            let text = value.as_str().ok_or(Invalid::InvalidType)?.trim();
            if text.chars().count() > MAX_TEXT_ANSWER {
                return Err(Invalid::TooLong {
                    max: MAX_TEXT_ANSWER,
                });
            }
            if text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
                return Err(Invalid::InvalidType);
            }
            Ok(AnswerValue::Text(text.to_owned()))
        }
    }
}

/// The answer a single choice is kept as: a list of one code, shown as the code.
pub fn answer_json(q: Option<&Question>, value: &AnswerValue) -> Value {
    match (q.map(|q| q.kind), value) {
        (Some(QuestionKind::SingleChoice), AnswerValue::Choices(c)) if c.len() == 1 => {
            Value::String(c[0].to_string())
        }
        (_, AnswerValue::Number(n)) => Value::from(*n),
        (_, AnswerValue::Text(t)) => Value::String(t.clone()),
        (_, AnswerValue::Choices(c)) => {
            Value::Array(c.iter().map(|c| Value::String(c.to_string())).collect())
        }
    }
}

/// Sends a survey when something happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyTrigger {
    pub id: Uuid,
    pub survey_id: Uuid,
    pub event: SurveyEvent,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// Why a public request about an invitation is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Expired,
    AlreadyAnswered,
}

/// One invitation to answer a survey, sent to a contact, maybe about a ticket, an opportunity
/// or an order. What it was about (agent, team, channel, category, grade) is kept as it was
/// when it was sent, for the results' breakdowns.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    pub id: Uuid,
    pub survey_id: Uuid,
    pub contact_id: Uuid,
    pub customer_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub opportunity_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub origin: InvitationOrigin,
    /// What a trigger invited for (`ticket_resolved:<id>`, `quarter:2026-Q4:<customer>`): one
    /// invitation per trigger and key, however often its job runs.
    pub trigger_key: Option<String>,
    pub trigger_id: Option<Uuid>,
    /// The stored status; [`Invitation::status_at`] tells an expired one.
    pub status: InvitationStatus,
    pub expires_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub emailed_at: Option<DateTime<Utc>>,
    pub follow_up_ticket_id: Option<Uuid>,
    pub answers: Option<Vec<Answer>>,
    pub agent_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub channel: Option<TicketChannel>,
    pub category: Option<TicketCategory>,
    pub grade: Option<Grade>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Invitation {
    /// Its status at `now`: unanswered past its expiry, `expired`.
    pub fn status_at(&self, now: DateTime<Utc>) -> InvitationStatus {
        match self.status {
            InvitationStatus::Sent | InvitationStatus::Opened if now >= self.expires_at => {
                InvitationStatus::Expired
            }
            s => s,
        }
    }

    /// Whether it may be read or answered at `now`.
    ///
    /// # Errors
    /// Answered already, or expired.
    pub fn check_open(&self, now: DateTime<Utc>) -> Result<(), Refusal> {
        match self.status_at(now) {
            InvitationStatus::Answered => Err(Refusal::AlreadyAnswered),
            InvitationStatus::Expired => Err(Refusal::Expired),
            _ => Ok(()),
        }
    }

    /// The customer read it: `opened`, the first time.
    pub fn open(&mut self, now: DateTime<Utc>) -> bool {
        if self.status != InvitationStatus::Sent {
            return false;
        }
        self.status = InvitationStatus::Opened;
        self.opened_at = Some(now);
        true
    }

    /// Records the answers.
    ///
    /// # Errors
    /// Answered already, or expired.
    pub fn answer(&mut self, answers: Vec<Answer>, now: DateTime<Utc>) -> Result<(), Refusal> {
        self.check_open(now)?;
        self.opened_at.get_or_insert(now);
        self.status = InvitationStatus::Answered;
        self.answered_at = Some(now);
        self.answers = Some(answers);
        Ok(())
    }

    /// No longer answerable from `now` (erasure): an open invitation expires now.
    pub fn close(&mut self, now: DateTime<Utc>) {
        if matches!(
            self.status,
            InvitationStatus::Sent | InvitationStatus::Opened
        ) {
            self.status = InvitationStatus::Expired;
            self.expires_at = self.expires_at.min(now);
        }
    }

    /// Free-text answers removed (erasure): scores and choices are not personal.
    pub fn erase_text(&mut self) {
        if let Some(answers) = &mut self.answers {
            answers.retain(|a| !matches!(a.value, AnswerValue::Text(_)));
        }
    }

    /// Its key in a breakdown by `group`.
    pub fn group_key(&self, group: ResultGroup) -> Option<String> {
        match group {
            ResultGroup::Agent => self.agent_id.map(|id| id.to_string()),
            ResultGroup::Team => self.team_id.map(|id| id.to_string()),
            ResultGroup::Channel => self.channel.map(|c| c.as_str().to_owned()),
            ResultGroup::Category => self.category.map(|c| c.as_str().to_owned()),
            ResultGroup::Grade => self.grade.map(|g| g.as_str().to_owned()),
        }
    }
}

/// Whether a contact may be invited at `now`: never after withdrawing consent, and not again
/// within `quiet_days` of its last invitation.
pub fn refusal(
    consent: Option<MarketingConsent>,
    last_invited_at: Option<DateTime<Utc>>,
    quiet_days: i64,
    now: DateTime<Utc>,
) -> Option<SkipReason> {
    if consent.is_some_and(|c| !c.granted) {
        return Some(SkipReason::ConsentWithdrawn);
    }
    if last_invited_at.is_some_and(|at| now < at + Duration::days(quiet_days)) {
        return Some(SkipReason::QuietPeriod);
    }
    None
}

/// The quarter `now` falls in, as `2026-Q4`.
pub fn quarter(now: DateTime<Utc>) -> String {
    format!("{}-Q{}", now.year(), now.month0() / 3 + 1)
}

/// CSAT: the share of answers of 4 or 5.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Csat {
    pub responses: u64,
    pub satisfied: u64,
}

impl Csat {
    /// Percent, one decimal.
    pub fn score(self) -> Option<f64> {
        (self.responses > 0).then(|| ratio(self.satisfied as i64, self.responses, 100, 1))
    }
}

/// NPS: promoters (9–10) minus detractors (0–6), in percent of answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Nps {
    pub responses: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
}

impl Nps {
    /// −100 to 100, one decimal.
    pub fn score(self) -> Option<f64> {
        (self.responses > 0).then(|| {
            let net = self.promoters as i64 - self.detractors as i64;
            ratio(net, self.responses, 100, 1)
        })
    }
}

/// The scores of a set of answered invitations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub answered: u64,
    pub csat: Csat,
    pub nps: Nps,
    /// Per dimension: the sum of answers scaled to 0–100, and their count.
    pub dimensions: BTreeMap<Code, (Decimal, u64)>,
}

impl Tally {
    /// Counts `n` answers `value` to question `question_id` of `survey` (numbers score;
    /// choices, text and unknown questions do not). `answered` is counted by the caller.
    pub fn count(&mut self, survey: &Survey, question_id: &Code, value: &AnswerValue, n: u64) {
        let (Some(q), AnswerValue::Number(v)) = (survey.question(question_id), value) else {
            return;
        };
        let v = *v;
        match q.kind {
            QuestionKind::Csat => {
                self.csat.responses += n;
                if v >= 4 {
                    self.csat.satisfied += n;
                }
            }
            QuestionKind::Nps => {
                self.nps.responses += n;
                match v {
                    9.. => self.nps.promoters += n,
                    7..=8 => self.nps.passives += n,
                    _ => self.nps.detractors += n,
                }
            }
            _ => {}
        }
        if let Some((min, max)) = q.scale() {
            let scaled = Decimal::from((v - min) * 100) / Decimal::from(max - min);
            let slot = self.dimensions.entry(q.dimension.clone()).or_default();
            slot.0 += scaled * Decimal::from(n);
            slot.1 += n;
        }
    }

    /// Each dimension's average on 0–100, one decimal, with its count.
    pub fn dimension_averages(&self) -> Vec<(Code, u64, f64)> {
        self.dimensions
            .iter()
            .map(|(d, (sum, n))| (d.clone(), *n, rounded(sum / Decimal::from(*n), 1)))
            .collect()
    }
}

/// The answers one question received.
#[derive(Debug, Clone, PartialEq)]
pub struct QuestionTally {
    pub responses: u64,
    sum: i64,
    /// Each value of its scale or each option, with its count (ascending, zeros kept).
    pub distribution: Vec<(String, u64)>,
}

impl QuestionTally {
    pub fn new(q: &Question) -> QuestionTally {
        let distribution = match q.scale() {
            Some((min, max)) => (min..=max).map(|v| (v.to_string(), 0)).collect(),
            None => q.options.iter().map(|o| (o.code.to_string(), 0)).collect(),
        };
        QuestionTally {
            responses: 0,
            sum: 0,
            distribution,
        }
    }

    /// Counts `n` answers `value`.
    pub fn add(&mut self, value: &AnswerValue, n: u64) {
        self.responses += n;
        let mut count = |key: &str| {
            if let Some(slot) = self.distribution.iter_mut().find(|(k, _)| k == key) {
                slot.1 += n;
            }
        };
        match value {
            AnswerValue::Number(v) => {
                count(&v.to_string());
                self.sum += v * i64::try_from(n).unwrap_or(i64::MAX);
            }
            AnswerValue::Choices(codes) => codes.iter().for_each(|c| count(c.as_str())),
            AnswerValue::Text(_) => {}
        }
    }

    /// The mean on the question's own scale, two decimals.
    pub fn average(&self, q: &Question) -> Option<f64> {
        (q.scale().is_some() && self.responses > 0).then(|| ratio(self.sum, self.responses, 1, 2))
    }
}

#[cfg(test)]
pub(crate) fn sample(now: DateTime<Utc>) -> Survey {
    let raw = [
        RawQuestion {
            id: Some("speed"),
            kind: Some("csat"),
            text: Some("How fast were we?"),
            dimension: Some("response_speed"),
            ..Default::default()
        },
        RawQuestion {
            kind: Some("nps"),
            text: Some("Would you recommend us?"),
            ..Default::default()
        },
        RawQuestion {
            kind: Some("rating"),
            text: Some("Our staff?"),
            max: Some(7),
            dimension: Some("staff"),
            ..Default::default()
        },
        RawQuestion {
            kind: Some("multi_choice"),
            text: Some("What mattered?"),
            options: Some(&[
                (Some("price"), Some("Price")),
                (Some("speed"), Some("Speed")),
            ]),
            required: Some(false),
            ..Default::default()
        },
        RawQuestion {
            kind: Some("text"),
            text: Some("Anything else?"),
            required: Some(false),
            ..Default::default()
        },
    ];
    let mut errors = Errors::default();
    let questions = parse_questions(&raw, &mut errors).unwrap();
    Survey {
        id: Uuid::now_v7(),
        title: Title::parse("After your ticket").unwrap(),
        language: Language::parse("en").unwrap(),
        questions,
        revision: 1,
        previous_id: None,
        superseded_by_id: None,
        expires_in_days: 14,
        quiet_days: 30,
        follow_up_csat_at_most: Some(2),
        follow_up_nps_at_most: Some(6),
        created_by: None,
        created_at: now,
        updated_at: now,
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(e: ValidationErrors) -> Vec<String> {
        e.into_errors().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn questions_get_ids_defaults_and_named_errors() {
        let s = sample(Utc::now());
        let ids: Vec<&str> = s.questions.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["speed", "q2", "q3", "q4", "q5"]);
        assert_eq!(s.questions[1].dimension.as_str(), OVERALL);
        assert!(s.questions[1].required);
        assert_eq!(s.questions[2].scale(), Some((1, 7)));

        let opts: &[(Option<&str>, Option<&str>)] = &[(Some("a"), Some("A"))];
        let raw = [
            RawQuestion {
                id: Some("x"),
                kind: Some("rating"),
                text: Some("t"),
                ..Default::default()
            },
            RawQuestion {
                id: Some("x"),
                kind: Some("single_choice"),
                text: Some("t"),
                options: Some(opts),
                ..Default::default()
            },
            RawQuestion {
                kind: Some("essay"),
                text: Some(" "),
                max: Some(3),
                dimension: Some("Bad Code"),
                ..Default::default()
            },
        ];
        let mut errors = Errors::default();
        assert!(parse_questions(&raw, &mut errors).is_none());
        assert_eq!(
            fields(errors.finish().unwrap_err()),
            [
                "questions[0].max",
                "questions[1].options",
                "questions[2].kind",
                "questions[2].text",
                "questions[2].dimension",
            ]
        );
    }

    #[test]
    fn answers_are_checked_per_question() {
        let s = sample(Utc::now());
        let (five, eleven, text) = (json!(5), json!(11), json!("slow"));
        let (choices, wrong) = (json!(["speed", "price"]), json!(["gold"]));
        let ok = s
            .check_answers(&[
                (Some("speed"), &five),
                (Some("q2"), &json!(9)),
                (Some("q3"), &json!(7)),
                (Some("q4"), &choices),
                (Some("q5"), &text),
            ])
            .unwrap();
        assert_eq!(
            ok[3].value,
            AnswerValue::Choices(vec![
                Code::parse("price").unwrap(),
                Code::parse("speed").unwrap()
            ])
        );
        let bad = s
            .check_answers(&[
                (Some("q2"), &eleven),
                (Some("nope"), &five),
                (Some("q4"), &wrong),
            ])
            .unwrap_err();
        assert_eq!(
            fields(bad),
            [
                "answers[1].question_id",
                "answers.speed",
                "answers.q2",
                "answers.q3",
                "answers.q4"
            ]
        );
    }

    #[test]
    fn low_scores_ask_for_a_follow_up() {
        let s = sample(Utc::now());
        let answer = |id: &str, v: i64| Answer {
            question_id: Code::parse(id).unwrap(),
            value: AnswerValue::Number(v),
        };
        assert!(s.needs_follow_up(&[answer("speed", 2)]));
        assert!(s.needs_follow_up(&[answer("q2", 6)]));
        assert!(!s.needs_follow_up(&[answer("speed", 3), answer("q2", 7), answer("q3", 1)]));
        let never = Survey {
            follow_up_csat_at_most: None,
            ..s
        };
        assert!(!never.needs_follow_up(&[answer("speed", 1)]));
    }

    #[test]
    fn scores_follow_their_formulas() {
        let s = sample(Utc::now());
        let mut tally = Tally::default();
        for (csat, nps, staff) in [(5, 10, 7), (4, 8, 4), (1, 3, 1)] {
            let answers = s
                .check_answers(&[
                    (Some("speed"), &json!(csat)),
                    (Some("q2"), &json!(nps)),
                    (Some("q3"), &json!(staff)),
                ])
                .unwrap();
            tally.answered += 1;
            for a in &answers {
                tally.count(&s, &a.question_id, &a.value, 1);
            }
        }
        assert_eq!(tally.csat.score(), Some(66.7));
        assert_eq!(tally.nps.score(), Some(0.0));
        let dims = tally.dimension_averages();
        // overall: nps 10, 8, 3 → 100, 80, 30 → 70; speed: 100, 75, 0 → 58.3; staff: 100, 50, 0.
        assert_eq!(dims[0].0.as_str(), "overall");
        assert_eq!(dims[0].2, 70.0);
        assert_eq!(dims[1].2, 58.3);
        assert_eq!(dims[2].2, 50.0);
    }

    #[test]
    fn answers_counted_at_once_score_as_counted_one_by_one() {
        let s = sample(Utc::now());
        let answers = [("speed", 4), ("q2", 9), ("q2", 6), ("q3", 3), ("q4", 1)];
        let (mut once, mut each) = (Tally::default(), Tally::default());
        let q1 = s.questions[1].clone();
        let (mut q_once, mut q_each) = (QuestionTally::new(&q1), QuestionTally::new(&q1));
        for (question, value) in answers {
            let id = Code::parse(question).unwrap();
            let value = AnswerValue::Number(value);
            once.count(&s, &id, &value, 3);
            for _ in 0..3 {
                each.count(&s, &id, &value, 1);
            }
            if id == q1.id {
                q_once.add(&value, 3);
                (0..3).for_each(|_| q_each.add(&value, 1));
            }
        }
        assert_eq!(once, each);
        assert_eq!(once.csat.responses, 3);
        assert_eq!(once.nps.promoters, 3);
        assert_eq!(once.nps.detractors, 3);
        assert_eq!(q_once, q_each);
        assert_eq!(q_once.responses, 6);
        assert_eq!(q_once.average(&q1), Some(7.5));
    }

    #[test]
    fn ratios_round_half_away_from_zero_exactly() {
        assert_eq!(ratio(201, 200, 1, 2), 1.01);
        assert_eq!(ratio(2, 3, 100, 1), 66.7);
        assert_eq!(ratio(-1, 8, 100, 1), -12.5);
        assert_eq!(ratio(-1, 16, 100, 1), -6.3);
        assert_eq!(ratio(3, 0, 100, 1), 0.0, "a share of nothing");
    }

    #[test]
    fn an_invitation_answers_once_and_expires() {
        let now = Utc::now();
        let mut inv = Invitation {
            id: Uuid::now_v7(),
            survey_id: Uuid::now_v7(),
            contact_id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            ticket_id: None,
            opportunity_id: None,
            order_id: None,
            origin: InvitationOrigin::Manual,
            trigger_key: None,
            trigger_id: None,
            status: InvitationStatus::Sent,
            expires_at: now + Duration::days(14),
            opened_at: None,
            answered_at: None,
            emailed_at: None,
            follow_up_ticket_id: None,
            answers: None,
            agent_id: None,
            team_id: None,
            channel: None,
            category: None,
            grade: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        assert_eq!(
            inv.status_at(now + Duration::days(14)),
            InvitationStatus::Expired
        );
        assert_eq!(
            inv.clone().answer(vec![], now + Duration::days(15)),
            Err(Refusal::Expired)
        );
        assert!(inv.open(now));
        assert!(!inv.open(now));
        inv.answer(vec![], now).unwrap();
        assert_eq!(inv.answer(vec![], now), Err(Refusal::AlreadyAnswered));
        assert_eq!(
            inv.status_at(now + Duration::days(20)),
            InvitationStatus::Answered
        );
    }

    #[test]
    fn consent_and_quiet_period_refuse() {
        let now = Utc::now();
        let withdrawn = MarketingConsent {
            granted: false,
            at: now,
            source: crate::enums::ConsentSource::Email,
        };
        assert_eq!(
            refusal(Some(withdrawn), None, 30, now),
            Some(SkipReason::ConsentWithdrawn)
        );
        let last = Some(now - Duration::days(29));
        assert_eq!(refusal(None, last, 30, now), Some(SkipReason::QuietPeriod));
        assert_eq!(refusal(None, last, 29, now), None);
        assert_eq!(quarter("2026-12-04T00:00:00Z".parse().unwrap()), "2026-Q4");
    }
}
