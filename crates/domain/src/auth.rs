//! Roles, scopes and the role → scope policy of the API contract.

use std::fmt;
use std::str::FromStr;

/// The one list of scopes: variant, OAuth2 name, and what it allows (for the OpenAPI
/// document). Everything that lists scopes is generated from it by handing it to a macro:
/// [`Scope`] with `ALL`, `as_str` and `description` here, and the API crate's marker types
/// (`rapport_api::auth::scopes`). A new scope is one line here.
#[macro_export]
macro_rules! for_each_scope {
    ($callback:ident) => {
        $callback! {
            CustomersRead => "customers:read",
                "Read customers, contacts, activities and timelines in view";
            CustomersWrite => "customers:write",
                "Create and change customers, contacts and activities in view";
            CustomersDelete => "customers:delete", "Delete and restore customers";
            CustomersPrivacy => "customers:privacy", "Export and erase a customer's personal data";
            CustomersPii => "customers:pii",
                "See personal fields unmasked (marketing sees phones masked, auditors every personal field)";
            OpportunitiesRead => "opportunities:read", "Read the sales pipeline";
            OpportunitiesWrite => "opportunities:write", "Change the sales pipeline";
            TicketsRead => "tickets:read", "Read service tickets";
            TicketsWrite => "tickets:write", "Create and change service tickets";
            TasksRead => "tasks:read", "Read follow-up tasks";
            TasksWrite => "tasks:write", "Create and change follow-up tasks";
            SurveysRead => "surveys:read", "Read surveys and their results";
            SurveysWrite => "surveys:write", "Create surveys and send invitations";
            CampaignsRead => "campaigns:read", "Read campaigns";
            CampaignsWrite => "campaigns:write", "Create and change campaigns";
            ReportsRead => "reports:read", "Read reports";
            UsersWrite => "users:write", "Manage users, teams and integration clients";
            SettingsWrite => "settings:write",
                "Change pipelines, SLA policies, survey templates and rules";
            WebhooksWrite => "webhooks:write", "Manage webhook subscriptions";
            AuditRead => "audit:read", "Read the audit trail";
            KnowledgeWrite => "knowledge:write",
                "Write knowledge-base articles and categories (every staff role reads published ones)";
        }
    };
}

macro_rules! define_scopes {
    ($($variant:ident => $name:literal, $description:literal;)+) => {
        /// What a caller may do, as OAuth2 scopes (`customers:read`, …).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Scope {
            $(#[doc = concat!("`", $name, "`: ", $description, ".")] $variant,)+
        }

        impl Scope {
            /// Every scope, in a stable order (the order of the OpenAPI document).
            pub const ALL: [Scope; [$($name),+].len()] = [$(Scope::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Scope::$variant => $name,)+
                }
            }

            /// What the scope allows, for the OpenAPI document.
            pub fn description(self) -> &'static str {
                match self {
                    $(Scope::$variant => $description,)+
                }
            }
        }
    };
}

for_each_scope!(define_scopes);

impl Scope {
    /// May an integration client be granted this scope? (`customers:*`, `opportunities:*`,
    /// `tickets:*`, `tasks:*`, `surveys:*`, `campaigns:*`, `reports:read`, `webhooks:write`.)
    pub fn grantable_to_clients(self) -> bool {
        !matches!(
            self,
            Scope::UsersWrite | Scope::SettingsWrite | Scope::AuditRead | Scope::KnowledgeWrite
        )
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{0}`")]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes, cheap to copy and to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ScopeSet(u32);

// One bit per scope.
const _: () = assert!(Scope::ALL.len() <= u32::BITS as usize);

impl ScopeSet {
    pub const EMPTY: ScopeSet = ScopeSet(0);

    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    fn bit(scope: Scope) -> u32 {
        1 << (scope as u32)
    }

    pub fn contains(self, scope: Scope) -> bool {
        self.0 & Self::bit(scope) != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= Self::bit(scope);
    }

    pub fn is_subset_of(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// Parses an OAuth2 `scope` string: space-separated scope names.
    ///
    /// # Errors
    /// The first name that is not a scope.
    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        s.split_whitespace().map(str::parse).collect()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

/// Space-separated, in the stable order of [`Scope::ALL`]: the OAuth2 `scope` string.
impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

/// The role of a user, or `integration` for an integration client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Admin,
    SalesManager,
    SalesRep,
    Marketing,
    ServiceManager,
    ServiceAgent,
    Auditor,
    Integration,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::SalesManager,
        Role::SalesRep,
        Role::Marketing,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Auditor,
        Role::Integration,
    ];

    /// The roles a user account can have (integration is for clients only).
    pub const USER_ROLES: [Role; 7] = [
        Role::Admin,
        Role::SalesManager,
        Role::SalesRep,
        Role::Marketing,
        Role::ServiceManager,
        Role::ServiceAgent,
        Role::Auditor,
    ];

    /// The names of [`Role::USER_ROLES`].
    pub const USER_ROLE_NAMES: [&'static str; 7] = [
        "admin",
        "sales_manager",
        "sales_rep",
        "marketing",
        "service_manager",
        "service_agent",
        "auditor",
    ];

    pub const NAMES: [&'static str; 8] = [
        "admin",
        "sales_manager",
        "sales_rep",
        "marketing",
        "service_manager",
        "service_agent",
        "auditor",
        "integration",
    ];

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// The scopes of the role, as the API contract's table fixes them. An integration client's
    /// scopes are its grant, not its role's: this answers the empty set for it.
    pub fn scopes(self) -> ScopeSet {
        use Scope::*;
        let scopes: &[Scope] = match self {
            Role::Admin => &Scope::ALL,
            Role::SalesManager => &[
                CustomersRead,
                CustomersWrite,
                OpportunitiesRead,
                OpportunitiesWrite,
                TasksRead,
                TasksWrite,
                CampaignsRead,
                ReportsRead,
                SurveysRead,
                KnowledgeWrite,
            ],
            Role::SalesRep => &[
                CustomersRead,
                CustomersWrite,
                OpportunitiesRead,
                OpportunitiesWrite,
                TasksRead,
                TasksWrite,
            ],
            Role::Marketing => &[
                CustomersRead,
                CampaignsRead,
                CampaignsWrite,
                SurveysRead,
                SurveysWrite,
                ReportsRead,
                KnowledgeWrite,
            ],
            Role::ServiceManager => &[
                CustomersRead,
                TicketsRead,
                TicketsWrite,
                TasksRead,
                TasksWrite,
                SurveysRead,
                SurveysWrite,
                ReportsRead,
                SettingsWrite,
                KnowledgeWrite,
            ],
            Role::ServiceAgent => &[
                CustomersRead,
                TicketsRead,
                TicketsWrite,
                TasksRead,
                TasksWrite,
            ],
            Role::Auditor => &[AuditRead, ReportsRead, CustomersRead],
            Role::Integration => &[],
        };
        scopes.iter().copied().collect()
    }
}

impl Role {
    /// Parses the role of a user account (any role but `integration`).
    ///
    /// # Errors
    /// `NotOneOf` listing the user roles.
    pub fn parse_user_role(s: &str) -> Result<Role, crate::Invalid> {
        match s.parse::<Role>() {
            Ok(role) if role != Role::Integration => Ok(role),
            _ => Err(crate::Invalid::NotOneOf {
                allowed: &Role::USER_ROLE_NAMES,
            }),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("customers:everything".parse::<Scope>().is_err());
    }

    #[test]
    fn scopes_are_listed_once_in_declaration_order() {
        // `ScopeSet` keys its bits by the discriminant, and parsing finds names in `ALL`.
        for (i, scope) in Scope::ALL.into_iter().enumerate() {
            assert_eq!(scope as usize, i, "{scope}");
        }
        let mut names: Vec<&str> = Scope::ALL.map(Scope::as_str).to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Scope::ALL.len(), "a scope name appears twice");
    }

    #[test]
    fn scope_names_are_resource_colon_action_and_described() {
        for scope in Scope::ALL {
            let name = scope.as_str();
            let (resource, action) = name.split_once(':').unwrap_or_default();
            let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase());
            assert!(word(resource) && word(action), "{name}");
            assert!(!scope.description().trim().is_empty(), "{name}");
        }
        assert_eq!(Scope::CustomersPii.as_str(), "customers:pii");
        assert_eq!(Scope::AuditRead.to_string(), "audit:read");
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn user_roles_exclude_integration() {
        assert_eq!(Role::parse_user_role("sales_rep"), Ok(Role::SalesRep));
        assert!(Role::parse_user_role("integration").is_err());
        for (role, name) in Role::USER_ROLES.iter().zip(Role::USER_ROLE_NAMES) {
            assert_eq!(role.as_str(), name);
        }
    }

    #[test]
    fn admin_has_every_scope() {
        assert_eq!(Role::Admin.scopes(), ScopeSet::all());
    }

    #[test]
    fn sales_rep_matches_the_contract() {
        assert_eq!(
            Role::SalesRep.scopes().to_string(),
            "customers:read customers:write opportunities:read opportunities:write tasks:read tasks:write"
        );
    }

    #[test]
    fn auditor_reads_audit_and_cannot_write() {
        let scopes = Role::Auditor.scopes();
        assert!(scopes.contains(Scope::AuditRead));
        assert!(!scopes.contains(Scope::CustomersWrite));
        assert!(!Role::SalesManager.scopes().contains(Scope::AuditRead));
    }

    #[test]
    fn only_admin_manages_users_and_privacy() {
        for role in Role::ALL {
            let scopes = role.scopes();
            let privileged = scopes.contains(Scope::UsersWrite)
                || scopes.contains(Scope::CustomersPrivacy)
                || scopes.contains(Scope::CustomersDelete);
            assert_eq!(privileged, role == Role::Admin, "{role}");
        }
    }

    #[test]
    fn service_manager_writes_settings() {
        assert!(Role::ServiceManager.scopes().contains(Scope::SettingsWrite));
        assert!(!Role::ServiceAgent.scopes().contains(Scope::SettingsWrite));
    }

    #[test]
    fn scope_set_parses_and_prints_in_stable_order() {
        let set = ScopeSet::parse("tasks:read customers:read").unwrap();
        assert!(set.contains(Scope::TasksRead));
        assert!(!set.contains(Scope::TasksWrite));
        assert_eq!(set.to_string(), "customers:read tasks:read");
        assert_eq!(ScopeSet::parse("").unwrap(), ScopeSet::EMPTY);
        assert!(ScopeSet::parse("customers:read nope").is_err());
    }

    #[test]
    fn subsets() {
        assert!(
            Role::SalesRep
                .scopes()
                .is_subset_of(Role::SalesManager.scopes())
        );
        assert!(
            !Role::Marketing
                .scopes()
                .is_subset_of(Role::SalesRep.scopes())
        );
    }

    #[test]
    fn clients_cannot_be_granted_administration() {
        assert!(!Scope::UsersWrite.grantable_to_clients());
        assert!(!Scope::AuditRead.grantable_to_clients());
        assert!(Scope::CustomersPrivacy.grantable_to_clients());
        assert!(Scope::WebhooksWrite.grantable_to_clients());
    }
}
