//! Ownership: which customers (and everything hanging off them) a caller can see.

use uuid::Uuid;

use crate::auth::Role;

/// The part of the customer base a caller can see and change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every customer (admins, managers outside sales, auditors, integration clients).
    All,
    /// The customers of one team (a sales manager's team).
    Team(Uuid),
    /// The customers one user owns (a sales rep).
    Owner(Uuid),
    /// Nothing: a sales manager without a team.
    Nothing,
}

impl Visibility {
    /// The visibility a role gives, per the contract: a sales rep sees what it owns, a sales
    /// manager what its team owns, every other role what its scopes allow.
    pub fn of(role: Role, user_id: Uuid, team_id: Option<Uuid>) -> Self {
        match role {
            Role::SalesRep => Visibility::Owner(user_id),
            Role::SalesManager => team_id.map_or(Visibility::Nothing, Visibility::Team),
            _ => Visibility::All,
        }
    }

    /// Can the caller see a record with this owner and team?
    pub fn allows(self, owner_id: Option<Uuid>, team_id: Option<Uuid>) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Team(team) => team_id == Some(team),
            Visibility::Owner(user) => owner_id == Some(user),
            Visibility::Nothing => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sales_rep_sees_only_its_own() {
        let me = Uuid::now_v7();
        let other = Uuid::now_v7();
        let team = Uuid::now_v7();
        let v = Visibility::of(Role::SalesRep, me, Some(team));
        assert!(v.allows(Some(me), Some(team)));
        assert!(!v.allows(Some(other), Some(team)));
        assert!(!v.allows(None, Some(team)));
    }

    #[test]
    fn sales_manager_sees_its_team() {
        let me = Uuid::now_v7();
        let team = Uuid::now_v7();
        let v = Visibility::of(Role::SalesManager, me, Some(team));
        assert!(v.allows(Some(Uuid::now_v7()), Some(team)));
        assert!(!v.allows(Some(me), Some(Uuid::now_v7())));
        assert_eq!(
            Visibility::of(Role::SalesManager, me, None),
            Visibility::Nothing
        );
    }

    #[test]
    fn other_roles_see_all() {
        for role in [
            Role::Admin,
            Role::Auditor,
            Role::ServiceAgent,
            Role::Marketing,
        ] {
            assert_eq!(Visibility::of(role, Uuid::now_v7(), None), Visibility::All);
        }
    }
}

/// Why an owner or team assignment is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentRefusal {
    /// Only sales managers and admins reassign customers (403).
    NotPermitted,
    /// The value lies outside what the caller may give (422 naming the field).
    OutsideTeam,
}

/// Who sets an owner or team: a user with its role and team, or an integration client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assigner {
    pub role: crate::auth::Role,
    pub user_id: Option<Uuid>,
    pub team_id: Option<Uuid>,
}

impl Assigner {
    /// May the caller make `owner` (a user in `owner_team`) the owner of a customer? A sales
    /// rep owns what it creates and reassigns nothing; a sales manager assigns within its
    /// team; other writers (admins, integrations) assign freely.
    ///
    /// # Errors
    /// The refusal.
    pub fn may_assign_owner(
        self,
        owner: Uuid,
        owner_team: Option<Uuid>,
    ) -> Result<(), AssignmentRefusal> {
        match self.role {
            Role::SalesRep if Some(owner) != self.user_id => Err(AssignmentRefusal::NotPermitted),
            Role::SalesManager if owner_team.is_none() || owner_team != self.team_id => {
                Err(AssignmentRefusal::OutsideTeam)
            }
            _ => Ok(()),
        }
    }

    /// May the caller put a customer in `team`? Sales reps and managers keep customers in
    /// their own team (or none, for a rep without one).
    ///
    /// # Errors
    /// `OutsideTeam`.
    pub fn may_assign_team(self, team: Option<Uuid>) -> Result<(), AssignmentRefusal> {
        match self.role {
            Role::SalesRep | Role::SalesManager if team != self.team_id => {
                Err(AssignmentRefusal::OutsideTeam)
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod assignment_tests {
    use super::*;

    #[test]
    fn reps_own_what_they_create_and_reassign_nothing() {
        let me = Uuid::now_v7();
        let team = Some(Uuid::now_v7());
        let rep = Assigner {
            role: Role::SalesRep,
            user_id: Some(me),
            team_id: team,
        };
        assert_eq!(rep.may_assign_owner(me, team), Ok(()));
        assert_eq!(
            rep.may_assign_owner(Uuid::now_v7(), team),
            Err(AssignmentRefusal::NotPermitted)
        );
        assert_eq!(rep.may_assign_team(team), Ok(()));
        assert_eq!(
            rep.may_assign_team(Some(Uuid::now_v7())),
            Err(AssignmentRefusal::OutsideTeam)
        );
    }

    #[test]
    fn managers_assign_within_their_team() {
        let team = Some(Uuid::now_v7());
        let manager = Assigner {
            role: Role::SalesManager,
            user_id: Some(Uuid::now_v7()),
            team_id: team,
        };
        assert_eq!(manager.may_assign_owner(Uuid::now_v7(), team), Ok(()));
        assert_eq!(
            manager.may_assign_owner(Uuid::now_v7(), Some(Uuid::now_v7())),
            Err(AssignmentRefusal::OutsideTeam)
        );
        assert_eq!(
            manager.may_assign_owner(Uuid::now_v7(), None),
            Err(AssignmentRefusal::OutsideTeam)
        );
    }

    #[test]
    fn admins_and_integrations_assign_freely() {
        for role in [Role::Admin, Role::Integration] {
            let a = Assigner {
                role,
                user_id: None,
                team_id: None,
            };
            assert_eq!(
                a.may_assign_owner(Uuid::now_v7(), Some(Uuid::now_v7())),
                Ok(())
            );
            assert_eq!(a.may_assign_team(Some(Uuid::now_v7())), Ok(()));
        }
    }
}
