//! Satisfaction tallies in the database: the answered invitations of a scope, and how often
//! each question got each numeric value or set of choices (and how many free-text answers), in GROUP BY queries over the
//! answers' JSON (SQLite's `json_each`, PostgreSQL's `jsonb_array_elements`). The rows read
//! are one per slice, survey, question and value, however many answers there are.

use std::collections::HashMap;

use rapport_domain::report::Interval;
use rapport_domain::survey::{AnswerValue, Code, InvitationStatus, ResultGroup};
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{ColumnTrait, DbBackend, QueryFilter, QuerySelect, QueryTrait, Statement};
use uuid::Uuid;

use super::survey_invitations::ResultScope;
use crate::entities::survey_invitation::Column;
use crate::repos::corrupt;
use crate::stats::period_start;
use crate::{Conn, StoreError};

/// How answers are sliced: per period of their answer, or per group of the invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slicing {
    Period(Interval),
    Group(ResultGroup),
}

impl Slicing {
    fn expr(self, backend: DbBackend) -> SimpleExpr {
        match self {
            Slicing::Period(interval) => period_start(backend, interval, "answered_at"),
            Slicing::Group(group) => Expr::col(group_column(group)).into(),
        }
    }

    /// A row's slice as text: `None` for answers without a group.
    fn read(self, row: &sea_orm::QueryResult) -> Result<Option<String>, StoreError> {
        Ok(match self {
            Slicing::Group(ResultGroup::Agent | ResultGroup::Team) => row
                .try_get::<Option<Uuid>>("", "slice")?
                .map(|id| id.to_string()),
            Slicing::Period(_) | Slicing::Group(_) => row.try_get("", "slice")?,
        })
    }
}

fn group_column(group: ResultGroup) -> Column {
    match group {
        ResultGroup::Agent => Column::AgentId,
        ResultGroup::Team => Column::TeamId,
        ResultGroup::Channel => Column::Channel,
        ResultGroup::Category => Column::Category,
        ResultGroup::Grade => Column::Grade,
    }
}

/// `SELECT slice, survey_id, answers` of the answered invitations in `scope`: what the
/// tallies read.
fn answered(scope: &ResultScope, slicing: Slicing, backend: DbBackend) -> Statement {
    scope
        .select(Column::AnsweredAt)
        .filter(Column::Status.eq(InvitationStatus::Answered.as_str()))
        .select_only()
        .column_as(slicing.expr(backend), "slice")
        .column(Column::SurveyId)
        .column(Column::Answers)
        .build(backend)
}

/// How many invitations of `scope` were answered, per slice.
///
/// # Errors
/// Database failures.
pub async fn answered_counts(
    db: &impl Conn,
    scope: &ResultScope,
    slicing: Slicing,
) -> Result<HashMap<Option<String>, u64>, StoreError> {
    let inner = answered(scope, slicing, db.get_database_backend());
    let sql = format!(
        "SELECT slice, COUNT(*) AS n FROM ({}) AS d GROUP BY slice",
        inner.sql
    );
    let mut out = HashMap::new();
    for row in db
        .query_all(Statement::from_sql_and_values(
            inner.db_backend,
            sql,
            inner.values.map(|v| v.0).unwrap_or_default(),
        ))
        .await?
    {
        let n: i64 = row.try_get("", "n")?;
        out.insert(slicing.read(&row)?, n.unsigned_abs());
    }
    Ok(out)
}

/// How often one question of one survey got one value, in one slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerCount {
    pub slice: Option<String>,
    pub survey_id: Uuid,
    pub question_id: Code,
    /// A number, a set of choices, or free text (always empty: text answers are counted,
    /// not read).
    pub value: AnswerValue,
    pub count: u64,
}

/// Every answer of `scope`'s answered invitations, counted per slice,
/// survey, question and value.
///
/// # Errors
/// Database failures; an answer that does not parse is corrupt.
pub async fn answer_counts(
    db: &impl Conn,
    scope: &ResultScope,
    slicing: Slicing,
) -> Result<Vec<AnswerCount>, StoreError> {
    let backend = db.get_database_backend();
    let inner = answered(scope, slicing, backend);
    // Each answer of each invitation: its question, its value as text, and the value's JSON
    // type. Numbers and sets of choices are counted per value; free text only per question.
    let (answers, question, value, kind, text) = match backend {
        DbBackend::Postgres => (
            "CROSS JOIN LATERAL jsonb_array_elements(d.answers) AS a (e)",
            "a.e->>'question_id'",
            "a.e->>'value'",
            "jsonb_typeof(a.e->'value')",
            "'string'",
        ),
        _ => (
            ", json_each(d.answers) AS a",
            "json_extract(a.value, '$.question_id')",
            "CAST(json_extract(a.value, '$.value') AS TEXT)",
            "json_type(a.value, '$.value')",
            "'text'",
        ),
    };
    let sql = format!(
        "SELECT slice, survey_id, question_id, value, kind, COUNT(*) AS n FROM \
         (SELECT d.slice, d.survey_id, {question} AS question_id, \
         CASE WHEN {kind} = {text} THEN '' ELSE {value} END AS value, \
         CASE WHEN {kind} = {text} THEN 'text' ELSE {kind} END AS kind \
         FROM ({inner}) AS d {answers}) AS x \
         GROUP BY slice, survey_id, question_id, value, kind",
        inner = inner.sql
    );
    let column = "survey_invitations.answers";
    let mut out = Vec::new();
    for row in db
        .query_all(Statement::from_sql_and_values(
            backend,
            sql,
            inner.values.map(|v| v.0).unwrap_or_default(),
        ))
        .await?
    {
        let question: String = row.try_get("", "question_id")?;
        let value: String = row.try_get("", "value")?;
        let kind: String = row.try_get("", "kind")?;
        let value = match kind.as_str() {
            "array" => {
                AnswerValue::Choices(serde_json::from_str(&value).map_err(|e| corrupt(column, e))?)
            }
            "text" => AnswerValue::Text(value),
            _ => AnswerValue::Number(value.parse().map_err(|e| corrupt(column, e))?),
        };
        let n: i64 = row.try_get("", "n")?;
        out.push(AnswerCount {
            slice: slicing.read(&row)?,
            survey_id: row.try_get("", "survey_id")?,
            question_id: Code::parse(&question).map_err(|e| corrupt(column, e))?,
            value,
            count: n.unsigned_abs(),
        });
    }
    Ok(out)
}
