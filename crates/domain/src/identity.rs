//! Who uses Rapport: users in teams, and integration clients.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::auth::{Role, ScopeSet};
use crate::email::Email;
use crate::name::{OrgName, PersonName};

/// A person who signs in with a password.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub email: Email,
    pub name: PersonName,
    pub role: Role,
    pub team_id: Option<Uuid>,
    pub disabled: bool,
    /// Set when an administrator chose the password (a one-time password).
    pub must_change_password: bool,
    /// When a one-time password stops working.
    pub password_expires_at: Option<DateTime<Utc>>,
    /// Bumped when the user is disabled, its password reset or its role changed: access tokens
    /// carry it, so older tokens stop working at once.
    pub token_version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl User {
    /// Ends every token issued to the user so far (access and refresh alike).
    pub fn revoke_tokens(&mut self) {
        self.token_version += 1;
    }

    /// Has its one-time password run out (so it can no longer sign in with it)?
    pub fn password_expired(&self, now: DateTime<Utc>) -> bool {
        self.password_expires_at.is_some_and(|at| at <= now)
    }
}

/// A sales or service team, led by a manager.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    pub id: Uuid,
    pub name: OrgName,
    pub manager_id: Option<Uuid>,
    /// How it hands out tickets and leads created without an assignee or owner.
    pub assignment: crate::assignment::AssignmentRule,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// A third-party integration that signs in with client credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub id: Uuid,
    pub name: OrgName,
    pub scopes: ScopeSet,
    pub disabled: bool,
    pub token_version: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl Client {
    /// Ends every token issued to the client so far.
    pub fn revoke_tokens(&mut self) {
        self.token_version += 1;
    }
}

/// Who did something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User(Uuid),
    Client(Uuid),
    /// Rapport itself: background jobs, first setup.
    System,
    /// An automation rule's action (`rapport_domain::automation`), by the rule's id.
    Rule(Uuid),
}

impl Actor {
    pub fn kind(self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Client(_) => "client",
            Actor::System => "system",
            Actor::Rule(_) => "automation_rule",
        }
    }

    pub fn id(self) -> Option<Uuid> {
        match self {
            Actor::User(id) | Actor::Client(id) | Actor::Rule(id) => Some(id),
            Actor::System => None,
        }
    }

    /// The inverse of [`Actor::kind`] and [`Actor::id`].
    pub fn from_parts(kind: &str, id: Option<Uuid>) -> Actor {
        match (kind, id) {
            ("user", Some(id)) => Actor::User(id),
            ("client", Some(id)) => Actor::Client(id),
            ("automation_rule", Some(id)) => Actor::Rule(id),
            _ => Actor::System,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actor_parts_round_trip() {
        let id = Uuid::now_v7();
        for actor in [
            Actor::User(id),
            Actor::Client(id),
            Actor::System,
            Actor::Rule(id),
        ] {
            assert_eq!(Actor::from_parts(actor.kind(), actor.id()), actor);
        }
    }
}
