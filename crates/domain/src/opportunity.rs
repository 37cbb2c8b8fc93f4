//! Opportunities: possible sales moving through a pipeline's stages, won with an amount or lost
//! with a reason, and the history of every move.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::auth::Role;
use crate::enums::Source;
use crate::money::Money;
use crate::name::{Name, Title};
use crate::pipeline::{Probability, Stage, StageKind};
use crate::tag::Tag;
use crate::validation::{Invalid, ValidationErrors};

/// Free text of a sale: the next step, a lost deal's explanation.
pub type SalesNote = Name<2000>;

crate::string_enum! {
    /// Where an opportunity stands, from its stage's kind.
    pub enum OpportunityStatus {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

crate::string_enum! {
    /// Why a deal was lost (with free text in `lost_note`).
    pub enum LostReason {
        Price => "price",
        Competitor => "competitor",
        NoBudget => "no_budget",
        NoDecision => "no_decision",
        Timing => "timing",
        ProductFit => "product_fit",
        Unresponsive => "unresponsive",
        Other => "other",
    }
}

impl From<StageKind> for OpportunityStatus {
    fn from(kind: StageKind) -> Self {
        match kind {
            StageKind::Open => OpportunityStatus::Open,
            StageKind::Won => OpportunityStatus::Won,
            StageKind::Lost => OpportunityStatus::Lost,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opportunity {
    pub id: Uuid,
    pub customer_id: Uuid,
    /// The primary contact, one of the customer's.
    pub contact_id: Option<Uuid>,
    pub title: Title,
    pub source: Option<Source>,
    pub campaign_id: Option<Uuid>,
    pub amount: Option<Money>,
    pub expected_close_date: Option<NaiveDate>,
    pub pipeline_id: Uuid,
    pub stage_id: Uuid,
    pub status: OpportunityStatus,
    pub probability: Probability,
    /// Set by hand: stage moves keep it (until the opportunity is won or lost).
    pub probability_overridden: bool,
    pub owner_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
    pub next_step: Option<SalesNote>,
    pub tags: Vec<Tag>,
    pub lost_reason: Option<LostReason>,
    pub lost_note: Option<SalesNote>,
    /// When it was won or lost.
    pub closed_at: Option<DateTime<Utc>>,
    /// When it entered its current stage.
    pub stage_entered_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// One move of an opportunity from a stage to another (or into its first stage).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMove {
    pub id: Uuid,
    pub opportunity_id: Uuid,
    /// `None` when the opportunity was created in `to`.
    pub from_stage_id: Option<Uuid>,
    pub to_stage_id: Uuid,
    pub changed_by: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    /// Whole seconds spent in `from`.
    pub seconds_in_previous: Option<i64>,
}

/// Why a stage move is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoveRefusal {
    /// A won deal needs its amount, a lost one its reason (the fields, with why).
    #[error("the move needs more fields")]
    Incomplete(ValidationErrors),
    /// Only a manager reopens a won or lost opportunity.
    #[error("only a manager reopens a closed opportunity")]
    ReopenNeedsManager,
}

/// What a lost deal says about why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loss {
    pub reason: Option<LostReason>,
    pub note: Option<SalesNote>,
}

/// Who reopens a won or lost deal: sales managers and admins.
pub fn may_reopen(role: Role) -> bool {
    matches!(role, Role::Admin | Role::SalesManager)
}

impl Opportunity {
    pub fn is_closed(&self) -> bool {
        self.status != OpportunityStatus::Open
    }

    /// Sets the probability by hand; moves keep it until the deal is won or lost.
    ///
    /// # Errors
    /// `NotAllowed` on a won or lost deal (100 or 0).
    pub fn override_probability(&mut self, p: Probability) -> Result<(), Invalid> {
        if self.is_closed() {
            return Err(Invalid::NotAllowed);
        }
        self.probability = p;
        self.probability_overridden = true;
        Ok(())
    }

    /// Gives the probability back to its stage, `stage`.
    ///
    /// # Errors
    /// `NotAllowed` on a won or lost deal (100 or 0).
    pub fn reset_probability(&mut self, stage: &Stage) -> Result<(), Invalid> {
        if self.is_closed() {
            return Err(Invalid::NotAllowed);
        }
        self.probability = stage.probability;
        self.probability_overridden = false;
        Ok(())
    }

    /// Corrects why a lost deal was lost: its reason can change, not go. Other deals have no
    /// loss to correct.
    ///
    /// # Errors
    /// `Required` for a lost deal without a reason; `NotAllowed` for another deal given a loss.
    pub fn correct_loss(&mut self, loss: Loss) -> Result<(), Invalid> {
        if loss == self.loss() {
            return Ok(());
        }
        if self.status != OpportunityStatus::Lost {
            return Err(Invalid::NotAllowed);
        }
        if loss.reason.is_none() {
            return Err(Invalid::Required);
        }
        self.lost_reason = loss.reason;
        self.lost_note = loss.note;
        Ok(())
    }

    /// Why it was lost, as stored.
    pub fn loss(&self) -> Loss {
        Loss {
            reason: self.lost_reason,
            note: self.lost_note.clone(),
        }
    }

    /// Moves the opportunity into `stage` (of its pipeline) at `now` and answers the move to
    /// record. Won needs an amount and sets `closed_at`; lost needs a reason; a closed
    /// opportunity moves again only when `may_reopen` (a manager). Moving into a new open stage
    /// takes that stage's probability unless it was set by hand; won is 100, lost 0.
    ///
    /// # Errors
    /// [`MoveRefusal`].
    pub fn move_to(
        &mut self,
        stage: &Stage,
        loss: Loss,
        may_reopen: bool,
        by: Option<Uuid>,
        now: DateTime<Utc>,
    ) -> Result<StageMove, MoveRefusal> {
        if self.is_closed() && !may_reopen {
            return Err(MoveRefusal::ReopenNeedsManager);
        }
        match stage.kind {
            StageKind::Won if self.amount.is_none() => {
                return Err(MoveRefusal::Incomplete(ValidationErrors::single(
                    "amount",
                    Invalid::Required,
                )));
            }
            StageKind::Lost if loss.reason.is_none() => {
                return Err(MoveRefusal::Incomplete(ValidationErrors::single(
                    "lost_reason",
                    Invalid::Required,
                )));
            }
            _ => {}
        }
        let seconds = (now - self.stage_entered_at).num_seconds().max(0);
        let from = self.stage_id;
        self.stage_id = stage.id;
        self.status = stage.kind.into();
        self.stage_entered_at = now;
        match stage.kind {
            StageKind::Open => {
                self.closed_at = None;
                self.lost_reason = None;
                self.lost_note = None;
                if !self.probability_overridden {
                    self.probability = stage.probability;
                }
            }
            StageKind::Won | StageKind::Lost => {
                self.closed_at = Some(now);
                self.probability = if stage.kind == StageKind::Won {
                    Probability::CERTAIN
                } else {
                    Probability::NONE
                };
                self.probability_overridden = false;
                let lost = stage.kind == StageKind::Lost;
                self.lost_reason = loss.reason.filter(|_| lost);
                self.lost_note = loss.note.filter(|_| lost);
            }
        }
        Ok(StageMove {
            id: Uuid::now_v7(),
            opportunity_id: self.id,
            from_stage_id: Some(from),
            to_stage_id: stage.id,
            changed_by: by,
            changed_at: now,
            seconds_in_previous: Some(seconds),
        })
    }

    /// The first entry of its history: created in its stage.
    pub fn created_move(&self) -> StageMove {
        StageMove {
            id: Uuid::now_v7(),
            opportunity_id: self.id,
            from_stage_id: None,
            to_stage_id: self.stage_id,
            changed_by: self.created_by,
            changed_at: self.created_at,
            seconds_in_previous: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Pipeline;

    fn pipeline() -> Pipeline {
        Pipeline::standard(Uuid::now_v7(), [(); 6].map(|_| Uuid::now_v7()), Utc::now())
    }

    fn opportunity(p: &Pipeline, at: DateTime<Utc>) -> Opportunity {
        let stage = p.first_open().unwrap();
        Opportunity {
            id: Uuid::now_v7(),
            customer_id: Uuid::now_v7(),
            contact_id: None,
            title: Title::parse("Printers for the Shenzhen office").unwrap(),
            source: None,
            campaign_id: None,
            amount: None,
            expected_close_date: None,
            pipeline_id: p.id,
            stage_id: stage.id,
            status: OpportunityStatus::Open,
            probability: stage.probability,
            probability_overridden: false,
            owner_id: None,
            team_id: None,
            next_step: None,
            tags: Vec::new(),
            lost_reason: None,
            lost_note: None,
            closed_at: None,
            stage_entered_at: at,
            created_by: None,
            created_at: at,
            updated_at: at,
            version: 1,
        }
    }

    #[test]
    fn a_move_records_the_time_in_the_previous_stage() {
        let p = pipeline();
        let start = Utc::now();
        let mut o = opportunity(&p, start);
        let later = start + chrono::Duration::hours(3);
        let m = o
            .move_to(&p.stages[2], Loss::default(), false, None, later)
            .unwrap();
        assert_eq!(m.from_stage_id, Some(p.stages[0].id));
        assert_eq!(m.seconds_in_previous, Some(3 * 3600));
        assert_eq!(o.probability, p.stages[2].probability);
        assert_eq!(o.stage_entered_at, later);
    }

    #[test]
    fn won_needs_an_amount_and_closes() {
        let p = pipeline();
        let now = Utc::now();
        let mut o = opportunity(&p, now);
        let won = p.won_stage().unwrap();
        let Err(MoveRefusal::Incomplete(e)) = o.move_to(won, Loss::default(), false, None, now)
        else {
            panic!("won without an amount");
        };
        assert_eq!(e.errors()[0].field, "amount");
        o.amount = Some(Money::parse("100", "CNY").unwrap());
        o.move_to(won, Loss::default(), false, None, now).unwrap();
        assert_eq!(o.status, OpportunityStatus::Won);
        assert_eq!(o.closed_at, Some(now));
        assert_eq!(o.probability, Probability::CERTAIN);
    }

    #[test]
    fn lost_needs_a_reason_and_reopening_a_manager() {
        let p = pipeline();
        let now = Utc::now();
        let mut o = opportunity(&p, now);
        let lost = &p.stages[5];
        let Err(MoveRefusal::Incomplete(e)) = o.move_to(lost, Loss::default(), false, None, now)
        else {
            panic!("lost without a reason");
        };
        assert_eq!(e.errors()[0].field, "lost_reason");
        let loss = Loss {
            reason: Some(LostReason::Price),
            note: None,
        };
        o.move_to(lost, loss, false, None, now).unwrap();
        assert_eq!(o.status, OpportunityStatus::Lost);
        assert_eq!(
            o.move_to(&p.stages[1], Loss::default(), false, None, now),
            Err(MoveRefusal::ReopenNeedsManager)
        );
        o.move_to(&p.stages[1], Loss::default(), true, None, now)
            .unwrap();
        assert_eq!(o.status, OpportunityStatus::Open);
        assert_eq!((o.closed_at, o.lost_reason), (None, None));
    }

    #[test]
    fn a_closed_deal_keeps_its_probability_and_a_lost_one_its_reason() {
        let p = pipeline();
        let now = Utc::now();
        let mut o = opportunity(&p, now);
        let price = Loss {
            reason: Some(LostReason::Price),
            note: None,
        };
        assert_eq!(o.correct_loss(price.clone()), Err(Invalid::NotAllowed));
        o.move_to(&p.stages[5], price, false, None, now).unwrap();
        let p90 = Probability::new(90).unwrap();
        assert_eq!(o.override_probability(p90), Err(Invalid::NotAllowed));
        assert_eq!(o.reset_probability(&p.stages[0]), Err(Invalid::NotAllowed));
        assert_eq!(o.correct_loss(Loss::default()), Err(Invalid::Required));
        let timing = Loss {
            reason: Some(LostReason::Timing),
            note: None,
        };
        o.correct_loss(timing).unwrap();
        assert_eq!(o.lost_reason, Some(LostReason::Timing));
    }

    #[test]
    fn an_overridden_probability_survives_open_moves() {
        let p = pipeline();
        let now = Utc::now();
        let mut o = opportunity(&p, now);
        o.probability = Probability::new(90).unwrap();
        o.probability_overridden = true;
        o.move_to(&p.stages[1], Loss::default(), false, None, now)
            .unwrap();
        assert_eq!(o.probability.percent(), 90);
    }
}
