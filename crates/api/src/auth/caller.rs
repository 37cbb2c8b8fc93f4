//! The authenticated caller of a request, and the scope check every handler goes through.

use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use rapport_domain::access::{Assigner, Visibility};
use rapport_domain::auth::{Role, Scope, ScopeSet};
use rapport_domain::identity::Actor;
use rapport_domain::ticket::TicketView;
use rapport_store::StoreError;
use rapport_store::repos::{clients, users};
use uuid::Uuid;

use crate::audit::Origin;
use crate::auth::jwt::Claims;
use crate::auth::scopes::RequiredScope;
use crate::error::{ApiError, Failure};
use crate::i18n::Text;
use crate::middleware::span::RequestSpan;
use crate::state::AppState;

/// Who is calling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    User {
        id: Uuid,
        role: Role,
        team_id: Option<Uuid>,
    },
    Client {
        id: Uuid,
    },
}

/// An authenticated caller: its identity, its scopes, and where the request came from (for
/// the audit trail).
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub scopes: ScopeSet,
    pub origin: Origin,
}

impl Caller {
    /// # Errors
    /// `Forbidden` naming the scope when the caller lacks it.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(ApiError::missing_scope(scope))
        }
    }

    pub fn actor(&self) -> Actor {
        self.origin.actor
    }

    /// May the caller see what `owner` made and keeps to itself (a webhook subscription, an
    /// import)? Its owner may, and admins.
    ///
    /// # Errors
    /// `NotFound` otherwise: what another owns is not the caller's to know of.
    pub fn check_owner(&self, owner: Actor) -> Result<(), ApiError> {
        if self.role() == Role::Admin || owner == self.actor() {
            Ok(())
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// The role (`integration` for clients).
    pub fn role(&self) -> Role {
        match self.principal {
            Principal::User { role, .. } => role,
            Principal::Client { .. } => Role::Integration,
        }
    }

    /// The user's or the client's id.
    pub fn principal_id(&self) -> Uuid {
        match self.principal {
            Principal::User { id, .. } | Principal::Client { id } => id,
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match self.principal {
            Principal::User { id, .. } => Some(id),
            Principal::Client { .. } => None,
        }
    }

    /// The caller as someone who assigns owners and teams.
    pub fn assigner(&self) -> Assigner {
        match self.principal {
            Principal::User { id, role, team_id } => Assigner {
                role,
                user_id: Some(id),
                team_id,
            },
            Principal::Client { .. } => Assigner {
                role: Role::Integration,
                user_id: None,
                team_id: None,
            },
        }
    }

    /// Which customers the caller can see and change.
    pub fn visibility(&self) -> Visibility {
        match self.principal {
            Principal::User { id, role, team_id } => Visibility::of(role, id, team_id),
            Principal::Client { .. } => Visibility::All,
        }
    }

    /// Which tickets the caller can see and change.
    pub fn ticket_view(&self) -> TicketView {
        match self.principal {
            Principal::User { id, role, team_id } => TicketView::of(role, id, team_id),
            Principal::Client { .. } => TicketView::All,
        }
    }

    /// The caller behind `origin` as it is now (its current role, team and scopes), for work
    /// done on its behalf after its request ended (an import's rows); `None` once it is
    /// disabled or gone.
    ///
    /// # Errors
    /// Database failures.
    pub async fn as_now(state: &AppState, origin: Origin) -> Result<Option<Caller>, ApiError> {
        let db = state.store.conn();
        let found = match origin.actor {
            Actor::User(id) => users::get(db, id).await.map(|user| {
                (!user.disabled).then_some((
                    Principal::User {
                        id,
                        role: user.role,
                        team_id: user.team_id,
                    },
                    user.role.scopes(),
                ))
            }),
            Actor::Client(id) => clients::get(db, id).await.map(|client| {
                (!client.disabled).then_some((Principal::Client { id }, client.scopes))
            }),
            Actor::System | Actor::Rule(_) => Ok(None),
        };
        match found {
            Ok(Some((principal, scopes))) => Ok(Some(Caller {
                principal,
                scopes,
                origin,
            })),
            Ok(None) | Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn authenticate(req: HttpRequest) -> Result<Caller, ApiError> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::Internal(Failure::new("application state missing")))?;
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ApiError::Unauthorized)?;
        let claims = state.jwt.verify(token, state.clock.now())?;
        let principal = principal_of(state, &claims).await?;
        if claims.pwd_change && !OPEN_BEFORE_PASSWORD_CHANGE.contains(&req.path()) {
            return Err(ApiError::PasswordChangeRequired);
        }
        let scopes = ScopeSet::parse(&claims.scope).map_err(|_| ApiError::Unauthorized)?;
        let actor = match principal {
            Principal::User { id, .. } => Actor::User(id),
            Principal::Client { id } => Actor::Client(id),
        };
        Ok(Caller {
            principal,
            scopes,
            origin: Origin::of_request(&req, actor),
        })
    }
}

/// What a token issued for a one-time password opens.
const OPEN_BEFORE_PASSWORD_CHANGE: [&str; 2] = ["/v1/me", "/v1/me/password"];

/// Checks that the token's user or client still exists, is enabled and has not had its tokens
/// or its sign-in revoked since: from memory when this instance checked it before (see
/// [`token_checks`](crate::auth::token_checks)), otherwise with one statement.
async fn principal_of(state: &AppState, claims: &Claims) -> Result<Principal, ApiError> {
    let role: Role = claims.role.parse().map_err(|_| ApiError::Unauthorized)?;
    let (principal, session) = if role == Role::Integration {
        (Principal::Client { id: claims.sub }, None)
    } else {
        let principal = Principal::User {
            id: claims.sub,
            role,
            team_id: claims.team_id,
        };
        (principal, claims.sid)
    };
    let key = (claims.sub, session);
    let checked = match state.token_checks.get(&key) {
        Some(checked) => checked,
        None => {
            let generation = state.token_checks.generation();
            let db = state.store.conn();
            let read = match principal {
                Principal::Client { id } => clients::auth_state(db, id).await.map(|(s, _)| s),
                Principal::User { id, .. } => users::auth_state(db, id, session).await,
            };
            match read {
                Ok(checked) => {
                    state.token_checks.remember(key, checked, generation);
                    checked
                }
                Err(StoreError::NotFound) => return Err(ApiError::Unauthorized),
                Err(other) => return Err(other.into()),
            }
        }
    };
    if checked.disabled || checked.token_version != claims.ver || checked.session_revoked {
        return Err(ApiError::Unauthorized);
    }
    Ok(principal)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            // Cached: several extractors of one request authenticate once.
            if let Some(caller) = req.extensions().get::<Caller>() {
                return Ok(caller.clone());
            }
            let caller = Caller::authenticate(req.clone()).await?;
            if let Some(span) = req.extensions().get::<RequestSpan>() {
                span.record_caller(&caller);
            }
            crate::middleware::rate_limit::charge_caller(&req, &caller.principal)?;
            req.extensions_mut().insert(caller.clone());
            Ok(caller)
        })
    }
}

/// A caller that holds the scope `S`; the only way handlers get a caller for scoped routes.
#[derive(Debug, Clone)]
pub struct Authorized<S> {
    caller: Caller,
    scope: PhantomData<S>,
}

impl<S> Authorized<S> {
    pub fn into_caller(self) -> Caller {
        self.caller
    }
}

impl<S: RequiredScope> Authorized<S> {
    /// `caller`, when it holds the scope `S` (for work done on its behalf later).
    ///
    /// # Errors
    /// `Forbidden` naming the scope.
    pub fn check(caller: Caller) -> Result<Authorized<S>, ApiError> {
        caller.require(S::SCOPE)?;
        Ok(Authorized {
            caller,
            scope: PhantomData,
        })
    }
}

impl<S> Deref for Authorized<S> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<S: RequiredScope + 'static> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            caller.require(S::SCOPE)?;
            Ok(Authorized {
                caller,
                scope: PhantomData,
            })
        })
    }
}

/// A caller signed in as a user, of any role: what staff-only reads take (the knowledge
/// base). Integration clients are refused with 403.
#[derive(Debug, Clone)]
pub struct Staff(Caller);

impl Deref for Staff {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl FromRequest for Staff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            match caller.principal {
                Principal::User { .. } => Ok(Staff(caller)),
                Principal::Client { .. } => Err(ApiError::forbidden(Text::new(
                    "Only staff accounts read this; integration clients do not.",
                    "仅员工账号可读取，集成客户端不可。",
                ))),
            }
        })
    }
}
