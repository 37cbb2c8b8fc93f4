//! Who gets new work when nobody was named: a team's members in turn (round robin), or the
//! one with the least open work.

use uuid::Uuid;

crate::string_enum! {
    /// How a team hands out unassigned work.
    pub enum AssignmentRule {
        /// Nobody is picked: work waits in the team's queue.
        None => "none",
        /// Each member in turn.
        RoundRobin => "round_robin",
        /// The member with the least open work (ties: in turn).
        LeastLoaded => "least_loaded",
    }
}

/// A member who may take the work, with how much open work it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    pub id: Uuid,
    pub open: u64,
}

impl AssignmentRule {
    /// The member to give the work to: after `last` in id order (round robin), or the least
    /// loaded; `None` with no candidates or no rule.
    pub fn pick(self, candidates: &[Candidate], last: Option<Uuid>) -> Option<Uuid> {
        let mut in_turn: Vec<Candidate> = candidates.to_vec();
        in_turn.sort_by_key(|c| c.id);
        // Members after the last one picked, then the others: the order of turns.
        let split = last.map_or(0, |l| in_turn.partition_point(|c| c.id <= l));
        in_turn.rotate_left(split);
        match self {
            AssignmentRule::None => None,
            AssignmentRule::RoundRobin => in_turn.first().map(|c| c.id),
            AssignmentRule::LeastLoaded => in_turn.iter().min_by_key(|c| c.open).map(|c| c.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> [Uuid; 3] {
        let mut ids = [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()];
        ids.sort();
        ids
    }

    #[test]
    fn round_robin_takes_members_in_turn() {
        let [a, b, c] = ids();
        let members = [b, c, a].map(|id| Candidate { id, open: 0 });
        let rule = AssignmentRule::RoundRobin;
        assert_eq!(rule.pick(&members, None), Some(a));
        assert_eq!(rule.pick(&members, Some(a)), Some(b));
        assert_eq!(rule.pick(&members, Some(c)), Some(a));
        // The last one left the team: the next in order still comes.
        let without_b = [a, c].map(|id| Candidate { id, open: 0 });
        assert_eq!(rule.pick(&without_b, Some(b)), Some(c));
        assert_eq!(rule.pick(&[], Some(b)), None);
    }

    #[test]
    fn least_loaded_takes_the_freest_then_in_turn() {
        let [a, b, c] = ids();
        let members = [
            Candidate { id: a, open: 3 },
            Candidate { id: b, open: 1 },
            Candidate { id: c, open: 1 },
        ];
        let rule = AssignmentRule::LeastLoaded;
        assert_eq!(rule.pick(&members, None), Some(b));
        assert_eq!(rule.pick(&members, Some(b)), Some(c));
        assert_eq!(AssignmentRule::None.pick(&members, None), None);
    }
}
