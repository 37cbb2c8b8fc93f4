//! One marker type per scope, for [`crate::auth::Authorized`]: a handler that takes
//! `Authorized<CustomersRead>` cannot run without the scope.

use rapport_domain::auth::Scope;

/// A type that names the scope a handler needs.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($name:ident),* $(,)?) => {
        $(
            #[doc = concat!("Requires `Scope::", stringify!($name), "`.")]
            #[derive(Debug)]
            pub struct $name;
            impl RequiredScope for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*
    };
}

scope_markers!(
    CustomersRead,
    CustomersWrite,
    CustomersDelete,
    CustomersPrivacy,
    OpportunitiesRead,
    OpportunitiesWrite,
    TicketsRead,
    TicketsWrite,
    TasksRead,
    TasksWrite,
    SurveysRead,
    SurveysWrite,
    CampaignsRead,
    CampaignsWrite,
    ReportsRead,
    UsersWrite,
    SettingsWrite,
    WebhooksWrite,
    AuditRead,
);
