//! Who is asking, and what they may see and do (SPEC §4).
//!
//! A principal is resolved from the directory for every request, so deactivating a user or
//! withdrawing portal access takes effect at once, whatever tokens are still around.

use crate::error::{DomainError, DomainResult};
use crate::model::{Case, Contact, PortalRole, Role, Scope, User};

#[derive(Debug, Clone)]
pub enum Principal {
    /// An admin or agent.
    Staff(User),
    /// A contact signed in to the customer portal.
    Portal(Contact),
}

impl Principal {
    pub fn id(&self) -> &str {
        match self {
            Principal::Staff(u) => &u.id,
            Principal::Portal(c) => &c.id,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Staff(u) if u.role == Role::Admin)
    }

    pub fn require_admin(&self) -> DomainResult<()> {
        if self.is_admin() { Ok(()) } else { Err(DomainError::Forbidden("only admins may do this".into())) }
    }

    pub fn require_staff(&self) -> DomainResult<&User> {
        match self {
            Principal::Staff(u) => Ok(u),
            Principal::Portal(_) => Err(DomainError::Forbidden("portal users may not do this".into())),
        }
    }

    /// Whether the principal may see the case at all. Callers answer "not found" otherwise,
    /// so that case ids and numbers of other customers cannot be probed.
    pub fn can_see(&self, case: &Case) -> bool {
        match self {
            Principal::Staff(user) => match (user.role, user.scope) {
                (Role::Admin, _) | (Role::Agent, Scope::All) => true,
                (Role::Agent, Scope::Team) => is_own(user, case) || case.team_ids.iter().any(|t| user.team_ids.contains(t)),
                (Role::Agent, Scope::Own) => is_own(user, case),
            },
            Principal::Portal(contact) => {
                let Some(portal) = &contact.portal else { return false };
                if case.internal {
                    return false;
                }
                case.contact_ids.contains(&contact.id)
                    || (portal.role == PortalRole::AccountCases && contact.account_id.is_some() && case.account_id == contact.account_id)
            }
        }
    }
}

fn is_own(user: &User, case: &Case) -> bool {
    case.assignee_id.as_deref() == Some(user.id.as_str()) || case.audit.created_by == user.id || case.collaborator_ids.contains(&user.id)
}
