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
