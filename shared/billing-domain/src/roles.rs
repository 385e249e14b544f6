//! Who may do what for a tenant. The role comes from the caller's token
//! (`ROLE_CLAIM`); owners and admins may change billing, viewers may only
//! read it, and cancelling at once is the owner's alone. A missing or unknown
//! role is a viewer: a token that names no role must not be able to spend
//! money or end a subscription.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Owner,
    Admin,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Owner, Role::Admin, Role::Viewer];

    /// The role a claim names; anything but `owner` or `admin` (exactly, as
    /// API Gateway passes it) is a viewer.
    pub fn from_claim(claim: Option<&str>) -> Role {
        match claim {
            Some("owner") => Role::Owner,
            Some("admin") => Role::Admin,
            _ => Role::Viewer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Whether this role may take `action`.
    pub fn permits(self, action: Action) -> bool {
        match action {
            Action::Read => true,
            Action::Manage => matches!(self, Role::Owner | Role::Admin),
            Action::CancelNow => self == Role::Owner,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a request does to the tenant's billing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Status, plans, previews, the payment-method list.
    Read,
    /// Checkout, portal, plan and seat changes, cancel at period end,
    /// resume, payment methods.
    Manage,
    /// Ending the subscription now, without waiting for the period's end.
    CancelNow,
}

impl Action {
    pub const ALL: [Action; 3] = [Action::Read, Action::Manage, Action::CancelNow];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_and_action_is_decided_as_documented() {
        let permitted = [
            (Role::Owner, Action::Read),
            (Role::Owner, Action::Manage),
            (Role::Owner, Action::CancelNow),
            (Role::Admin, Action::Read),
            (Role::Admin, Action::Manage),
            (Role::Viewer, Action::Read),
        ];
        for role in Role::ALL {
            for action in Action::ALL {
                let expected = permitted.contains(&(role, action));
                assert_eq!(role.permits(action), expected, "{role} {action:?}");
            }
        }
    }

    #[test]
    fn a_missing_or_unknown_role_is_a_viewer() {
        assert_eq!(Role::from_claim(Some("owner")), Role::Owner);
        assert_eq!(Role::from_claim(Some("admin")), Role::Admin);
        for claim in [
            None,
            Some("viewer"),
            Some("Owner"),
            Some(""),
            Some("superuser"),
            Some(" admin"),
        ] {
            assert_eq!(Role::from_claim(claim), Role::Viewer, "{claim:?}");
        }
    }

    #[test]
    fn role_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_claim(Some(role.as_str())), role);
        }
    }
}
