//! Sales pipelines: ordered stages, each with a default probability and a kind. A pipeline has
//! exactly one `won` stage and at least one `lost` stage, so every opportunity can end.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::name::Title;
use crate::validation::{Errors, Invalid, index, path};

crate::string_enum! {
    /// Whether a stage is still in play or one of the pipeline's ends.
    pub enum StageKind {
        Open => "open",
        Won => "won",
        Lost => "lost",
    }
}

/// A chance of winning, in whole percent (0–100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Probability(u8);

impl Probability {
    pub const CERTAIN: Probability = Probability(100);
    pub const NONE: Probability = Probability(0);

    /// # Errors
    /// `OutOfRange` outside 0–100.
    pub fn new(percent: i64) -> Result<Self, Invalid> {
        u8::try_from(percent)
            .ok()
            .filter(|p| *p <= 100)
            .map(Probability)
            .ok_or(Invalid::OutOfRange { min: 0, max: 100 })
    }

    pub fn percent(self) -> u8 {
        self.0
    }
}

/// One step of a pipeline. Its place is its index in [`Pipeline::stages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: Uuid,
    pub name: Title,
    /// The probability an opportunity takes when it enters the stage.
    pub probability: Probability,
    pub kind: StageKind,
}

/// A stage as a client sent it: `id` names an existing stage to keep, none adds one.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawStage<'a> {
    pub id: Option<Uuid>,
    pub name: Option<&'a str>,
    pub probability: Option<i64>,
    pub kind: Option<&'a str>,
}

/// The most stages a pipeline holds.
pub const MAX_STAGES: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub id: Uuid,
    pub name: Title,
    /// The pipeline a new opportunity goes to when none is named. Exactly one is.
    pub is_default: bool,
    /// In order: the sales process reads left to right.
    pub stages: Vec<Stage>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Pipeline {
    /// The stage of this pipeline with this id.
    pub fn stage(&self, id: Uuid) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// Where a new opportunity starts: the first open stage.
    pub fn first_open(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == StageKind::Open)
    }

    /// The pipeline's one won stage.
    pub fn won_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| s.kind == StageKind::Won)
    }

    /// The stage's place, 0 first.
    pub fn position(&self, id: Uuid) -> Option<usize> {
        self.stages.iter().position(|s| s.id == id)
    }

    /// The default pipeline every database starts with (its migration seeds it).
    #[cfg(test)]
    pub fn standard(id: Uuid, stage_ids: [Uuid; 6], now: DateTime<Utc>) -> Pipeline {
        let stages = [
            ("Qualification", 10, StageKind::Open),
            ("Needs analysis", 25, StageKind::Open),
            ("Proposal", 50, StageKind::Open),
            ("Negotiation", 75, StageKind::Open),
            ("Won", 100, StageKind::Won),
            ("Lost", 0, StageKind::Lost),
        ];
        Pipeline {
            id,
            name: Title::composed("Sales", ""),
            is_default: true,
            stages: stages
                .into_iter()
                .zip(stage_ids)
                .map(|((name, probability, kind), id)| Stage {
                    id,
                    name: Title::composed(name, ""),
                    probability: Probability(probability),
                    kind,
                })
                .collect(),
            created_at: now,
            updated_at: now,
            version: 1,
        }
    }
}

/// Reads the full, ordered list of a pipeline's stages under `field`. A stage with an `id`
/// must be one of `existing` (it keeps its id; what is not sent keeps its value); one without
/// is new and needs its name and kind. Every existing stage must be listed: a stage is removed
/// with `DELETE /v1/pipelines/{id}/stages/{stage_id}`, which says where its opportunities go.
/// The list as a whole needs exactly one `won` stage, at least one `lost` and one `open` stage,
/// and distinct names.
pub fn parse_stages(
    raw: &[RawStage<'_>],
    existing: &[Stage],
    field: &str,
    outer: &mut Errors,
) -> Vec<Stage> {
    // The list's own errors apart, so that another field's error does not hide them.
    let mut own = Errors::default();
    let stages = read_stages(raw, existing, field, &mut own);
    if let Err(e) = own.finish() {
        outer.extend(e);
    }
    stages
}

fn read_stages(
    raw: &[RawStage<'_>],
    existing: &[Stage],
    field: &str,
    errors: &mut Errors,
) -> Vec<Stage> {
    if raw.len() > MAX_STAGES {
        errors.add(field, Invalid::TooLong { max: MAX_STAGES });
        return Vec::new();
    }
    let mut stages = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let at = index(field, i);
        let known = r.id.and_then(|id| existing.iter().find(|s| s.id == id));
        if r.id.is_some() && known.is_none() {
            errors.add(path(&at, "id"), Invalid::UnknownReference);
            continue;
        }
        if r.id.is_some() && raw[..i].iter().any(|o| o.id == r.id) {
            errors.add(path(&at, "id"), Invalid::Duplicate);
            continue;
        }
        let name = match (r.name, known) {
            (Some(n), _) => errors.check(path(&at, "name"), Title::parse(n)),
            (None, Some(k)) => Some(k.name.clone()),
            (None, None) => {
                errors.add(path(&at, "name"), Invalid::Required);
                None
            }
        };
        let kind = match (r.kind, known) {
            (Some(k), _) => errors.check(path(&at, "kind"), StageKind::parse(k)),
            (None, Some(k)) => Some(k.kind),
            (None, None) => {
                errors.add(path(&at, "kind"), Invalid::Required);
                None
            }
        };
        let probability = match (r.probability, known, kind) {
            (Some(p), _, _) => errors.check(path(&at, "probability"), Probability::new(p)),
            (None, Some(k), _) => Some(k.probability),
            // A new stage without one: what its kind implies, else half way.
            (None, None, Some(StageKind::Won)) => Some(Probability::CERTAIN),
            (None, None, Some(StageKind::Lost)) => Some(Probability::NONE),
            (None, None, _) => Some(Probability(50)),
        };
        if let (Some(name), Some(probability), Some(kind)) = (name, probability, kind) {
            if stages.iter().any(|s: &Stage| s.name == name) {
                errors.add(path(&at, "name"), Invalid::Duplicate);
            }
            stages.push(Stage {
                id: r.id.unwrap_or_else(Uuid::now_v7),
                name,
                probability,
                kind,
            });
        }
    }
    let keeps_all = existing
        .iter()
        .all(|e| raw.iter().any(|r| r.id == Some(e.id)));
    if errors.is_empty() && (!keeps_all || check_ends(&stages).is_err()) {
        errors.add(field, Invalid::InvalidStages);
    }
    stages
}

/// Exactly one won stage, at least one lost and one open stage.
///
/// # Errors
/// `InvalidStages`.
pub fn check_ends(stages: &[Stage]) -> Result<(), Invalid> {
    let count = |kind| stages.iter().filter(|s| s.kind == kind).count();
    if count(StageKind::Won) == 1 && count(StageKind::Lost) >= 1 && count(StageKind::Open) >= 1 {
        Ok(())
    } else {
        Err(Invalid::InvalidStages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standard() -> Pipeline {
        let ids = [(); 6].map(|_| Uuid::now_v7());
        Pipeline::standard(Uuid::now_v7(), ids, Utc::now())
    }

    fn raw_of(stages: &[Stage]) -> Vec<RawStage<'static>> {
        stages
            .iter()
            .map(|s| RawStage {
                id: Some(s.id),
                ..RawStage::default()
            })
            .collect()
    }

    #[test]
    fn the_standard_pipeline_has_its_ends() {
        let p = standard();
        assert_eq!(check_ends(&p.stages), Ok(()));
        assert_eq!(p.first_open().unwrap().name.as_str(), "Qualification");
        assert_eq!(p.won_stage().unwrap().probability, Probability::CERTAIN);
        assert_eq!(p.stages.len(), 6);
    }

    #[test]
    fn probability_is_a_percentage() {
        assert_eq!(Probability::new(0).unwrap().percent(), 0);
        assert_eq!(Probability::new(100).unwrap().percent(), 100);
        assert!(Probability::new(101).is_err());
        assert!(Probability::new(-1).is_err());
    }

    #[test]
    fn reorders_renames_and_adds() {
        let p = standard();
        let mut raw = raw_of(&p.stages);
        raw.swap(0, 1);
        raw[0].name = Some("Discovery");
        raw.insert(
            2,
            RawStage {
                name: Some("Demo"),
                kind: Some("open"),
                probability: Some(40),
                ..RawStage::default()
            },
        );
        let mut errors = Errors::default();
        let stages = parse_stages(&raw, &p.stages, "stages", &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(stages[0].id, p.stages[1].id);
        assert_eq!(stages[0].name.as_str(), "Discovery");
        assert_eq!(stages[0].probability, p.stages[1].probability);
        assert_eq!(stages[2].name.as_str(), "Demo");
        assert_eq!(stages.len(), 7);
    }

    #[test]
    fn refuses_a_pipeline_without_its_ends() {
        let raw = [
            RawStage {
                name: Some("A"),
                kind: Some("open"),
                ..RawStage::default()
            },
            RawStage {
                name: Some("B"),
                kind: Some("won"),
                ..RawStage::default()
            },
            RawStage {
                name: Some("C"),
                kind: Some("won"),
                ..RawStage::default()
            },
        ];
        let mut errors = Errors::default();
        parse_stages(&raw, &[], "stages", &mut errors);
        let errors = errors.finish().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.clone()).collect();
        assert_eq!(fields, ["stages"]);
        assert_eq!(errors.errors()[0].invalid, Invalid::InvalidStages);
    }

    #[test]
    fn names_each_bad_stage() {
        let p = standard();
        let mut raw = raw_of(&p.stages[1..]);
        raw[0].probability = Some(120);
        raw[2].name = Some("Proposal");
        raw.push(RawStage {
            id: Some(Uuid::now_v7()),
            ..RawStage::default()
        });
        let mut errors = Errors::default();
        parse_stages(&raw, &p.stages, "stages", &mut errors);
        let errors = errors.finish().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.clone()).collect();
        assert!(fields.contains(&"stages[0].probability".to_owned()));
        assert!(fields.contains(&"stages[2].name".to_owned()));
        assert!(fields.contains(&"stages[5].id".to_owned()));
    }

    #[test]
    fn every_kept_stage_is_listed() {
        let p = standard();
        let raw = raw_of(&p.stages[1..]);
        let mut errors = Errors::default();
        parse_stages(&raw, &p.stages, "stages", &mut errors);
        let errors = errors.finish().unwrap_err();
        assert_eq!(errors.errors()[0].field, "stages");
        assert_eq!(errors.errors()[0].invalid, Invalid::InvalidStages);
    }
}
