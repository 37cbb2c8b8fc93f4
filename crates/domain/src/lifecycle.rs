//! The customer lifecycle rule: `lead → prospect → customer → loyal`; `churned` from any
//! stage; a churned customer comes back as a `prospect`.

use crate::enums::LifecycleStage;

/// A lifecycle change the rule does not allow. Carries the stages that are allowed from
/// `from`, so the API can answer 409 with them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a customer cannot move from lifecycle stage `{from}` to `{to}`")]
pub struct LifecycleError {
    pub from: LifecycleStage,
    pub to: LifecycleStage,
    pub allowed: &'static [LifecycleStage],
}

impl LifecycleStage {
    /// The stages a customer may move to from this one. Staying in the same stage is not a
    /// transition and is never listed.
    pub fn allowed_next(self) -> &'static [LifecycleStage] {
        use LifecycleStage::*;
        match self {
            Lead => &[Prospect, Churned],
            Prospect => &[Customer, Churned],
            Customer => &[Loyal, Churned],
            Loyal => &[Churned],
            // Reactivation starts the sale over.
            Churned => &[Prospect],
        }
    }

    /// The moves a won deal makes, one step at a time through the rule: a lead or prospect
    /// (or a churned customer, back through prospect) becomes a customer; a customer who had
    /// won deals before becomes loyal.
    pub fn after_win(self, earlier_wins: u64) -> &'static [LifecycleStage] {
        use LifecycleStage::*;
        match self {
            Lead | Churned => &[Prospect, Customer],
            Prospect => &[Customer],
            Customer if earlier_wins > 0 => &[Loyal],
            Customer | Loyal => &[],
        }
    }

    /// Whether the rule allows moving from this stage to `to`.
    pub fn can_move_to(self, to: LifecycleStage) -> bool {
        self.allowed_next().contains(&to)
    }

    /// Moves to `to` when the rule allows it. Callers that receive an unchanged stage (a
    /// `PATCH` repeating the current value) should treat it as no change rather than call this.
    ///
    /// # Errors
    /// [`LifecycleError`] with the allowed next stages when the move is not allowed,
    /// including `to == self`.
    pub fn transition(self, to: LifecycleStage) -> Result<LifecycleStage, LifecycleError> {
        if self.can_move_to(to) {
            Ok(to)
        } else {
            Err(LifecycleError {
                from: self,
                to,
                allowed: self.allowed_next(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleStage::*;

    /// The rule as a table: `(from, to)` pairs that are allowed. Everything else is refused.
    const ALLOWED: &[(LifecycleStage, LifecycleStage)] = &[
        (Lead, Prospect),
        (Prospect, Customer),
        (Customer, Loyal),
        (Lead, Churned),
        (Prospect, Churned),
        (Customer, Churned),
        (Loyal, Churned),
        (Churned, Prospect),
    ];

    #[test]
    fn every_pair_follows_the_table() {
        for &from in LifecycleStage::ALL {
            for &to in LifecycleStage::ALL {
                let expected = ALLOWED.contains(&(from, to));
                match from.transition(to) {
                    Ok(stage) => {
                        assert!(expected, "{from} → {to} should be refused");
                        assert_eq!(stage, to);
                    }
                    Err(err) => {
                        assert!(!expected, "{from} → {to} should be allowed");
                        assert_eq!(
                            err,
                            LifecycleError {
                                from,
                                to,
                                allowed: from.allowed_next()
                            }
                        );
                    }
                }
                assert_eq!(from.can_move_to(to), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn staying_is_not_a_transition() {
        for &stage in LifecycleStage::ALL {
            assert!(!stage.allowed_next().contains(&stage));
            assert!(stage.transition(stage).is_err());
        }
    }

    #[test]
    fn churned_is_reachable_from_every_other_stage() {
        for &stage in LifecycleStage::ALL.iter().filter(|s| **s != Churned) {
            assert_eq!(stage.transition(Churned), Ok(Churned));
        }
    }

    #[test]
    fn a_win_moves_the_customer_along_the_rule() {
        assert_eq!(Lead.after_win(0), [Prospect, Customer]);
        assert_eq!(Prospect.after_win(0), [Customer]);
        assert_eq!(Churned.after_win(3), [Prospect, Customer]);
        assert_eq!(Customer.after_win(1), [Loyal]);
        assert!(Customer.after_win(0).is_empty());
        assert!(Loyal.after_win(5).is_empty());
        for stage in LifecycleStage::ALL {
            let mut at = *stage;
            for next in stage.after_win(1) {
                assert!(at.can_move_to(*next), "{at} → {next}");
                at = *next;
            }
        }
    }

    #[test]
    fn refusal_lists_the_allowed_stages() {
        let err = Lead.transition(Loyal).unwrap_err();
        assert_eq!(err.allowed, [Prospect, Churned]);
        assert_eq!(
            err.to_string(),
            "a customer cannot move from lifecycle stage `lead` to `loyal`"
        );
    }
}
