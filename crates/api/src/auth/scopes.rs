//! One marker type per scope, for [`crate::auth::Authorized`]: a handler that takes
//! `Authorized<CustomersRead>` cannot run without the scope. The markers are generated from
//! the domain's one list of scopes ([`rapport_domain::for_each_scope`]), so a new scope gets
//! its marker without a line here.

use rapport_domain::auth::Scope;

/// A type that names the scope a handler needs.
pub trait RequiredScope {
    const SCOPE: Scope;
}

macro_rules! scope_markers {
    ($($variant:ident => $name:literal, $description:literal;)+) => {
        $(
            #[doc = concat!("Requires `", $name, "`.")]
            #[derive(Debug)]
            pub struct $variant;

            impl RequiredScope for $variant {
                const SCOPE: Scope = Scope::$variant;
            }
        )+

        /// The scope of every marker, in the order of the list.
        #[cfg(test)]
        const MARKED: &[Scope] = &[$(<$variant as RequiredScope>::SCOPE),+];
    };
}

rapport_domain::for_each_scope!(scope_markers);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scope_has_its_marker() {
        assert_eq!(MARKED, Scope::ALL.as_slice());
    }

    #[test]
    fn markers_name_their_own_scope() {
        assert_eq!(CustomersRead::SCOPE.as_str(), "customers:read");
        assert_eq!(CustomersPii::SCOPE.as_str(), "customers:pii");
        assert_eq!(AuditRead::SCOPE.as_str(), "audit:read");
    }
}
