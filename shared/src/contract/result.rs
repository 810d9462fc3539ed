//! The contract's results, one per function, as the functions return them (camelCase
//! JSON, the shapes docs/contract.md and docs/schemas describe).

use serde::Serialize;

/// `status` of onboard-user's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OnboardStatus {
    Created,
    Updated,
    Unchanged,
    /// A newer event of the person was applied; nothing was written.
    Stale,
    /// This event was applied already; nothing was written.
    Duplicate,
}

/// `groups` of onboard-user's result: display names, in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOutcome {
    pub added: Vec<String>,
    pub already_member: Vec<String>,
    pub created: Vec<String>,
    /// Requested groups left alone because a roster event of the group newer than this
    /// request decided the person is not a member; only with the ledger on, and only
    /// when non-empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
}

/// onboard-user's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardResult {
    /// `None` only for `stale` and `duplicate`, which make no Identity Store call.
    pub user_id: Option<String>,
    pub user_name: String,
    pub status: OnboardStatus,
    /// The existing user's `UserStatus` (`ENABLED`, `DISABLED`) when the store reports
    /// it; absent for a user this request created, and for `stale` and `duplicate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_status: Option<String>,
    pub updated_attributes: Vec<&'static str>,
    /// Names the request gives that no user has: `user.enterprise.manager`'s, left
    /// unchanged on the user; only when non-empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<String>,
    pub groups: GroupOutcome,
    /// The ids of the groups in `groups`, for the ledger's audit trail.
    #[serde(skip)]
    pub(crate) group_ids: Vec<String>,
    /// Whether the attributes were converged (the ledger's, for the attributes' order).
    #[serde(skip)]
    pub(crate) applied_attributes: bool,
}

impl OnboardResult {
    /// The result of a request the ledger turned away.
    pub(crate) fn skipped(user_name: String, status: OnboardStatus) -> Self {
        Self {
            user_id: None,
            user_name,
            status,
            user_status: None,
            updated_attributes: Vec::new(),
            unresolved: Vec::new(),
            groups: GroupOutcome::default(),
            group_ids: Vec::new(),
            applied_attributes: false,
        }
    }
}

/// `status` of offboard-user's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OffboardStatus {
    Deleted,
    Revoked,
    NotFound,
    /// A newer event of the person was applied (a re-hire, say); nothing was written.
    Stale,
    /// This event was applied already; nothing was written.
    Duplicate,
}

/// offboard-user's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OffboardResult {
    pub user_name: String,
    pub user_id: Option<String>,
    pub status: OffboardStatus,
    pub removed_memberships: usize,
    pub group_ids: Vec<String>,
    /// A `stale` leave older than a re-hire that still decided the leave: the ledger
    /// records it, so that an older roster or onboarding delivered after it cannot add
    /// back a membership the leave, in time order, took away.
    #[serde(skip)]
    pub(crate) left_before_rehire: bool,
    /// Such a leave: for each of `group_ids`, `(group subject, order)` for the ledger's
    /// finish to check that no roster of the group decided about the person after
    /// `order` meanwhile (see `Outcome::checks`).
    #[serde(skip)]
    pub(crate) checks: Vec<(String, String)>,
}

impl OffboardResult {
    /// A result with nothing done: `notFound`, `stale`, `duplicate`.
    pub(crate) const fn nothing(user_name: String, status: OffboardStatus) -> Self {
        Self {
            user_name,
            user_id: None,
            status,
            removed_memberships: 0,
            group_ids: Vec::new(),
            left_before_rehire: false,
            checks: Vec::new(),
        }
    }
}

/// `status` of sync-group's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncStatus {
    Created,
    Updated,
    Unchanged,
    Planned,
    NotFound,
    /// A newer roster event of the group was applied; nothing was written.
    Stale,
    /// This event was applied already; nothing was written.
    Duplicate,
}

/// sync-group's result. `unchanged` counts the group's members that stay members;
/// `leavers` names listed users that a revoke marked (`LEAVERS_GROUP`), never added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncResult {
    pub group_id: Option<String>,
    pub display_name: String,
    pub status: SyncStatus,
    pub dry_run: bool,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
    pub unresolved: Vec<String>,
    /// Only with the fence on (`LEAVERS_GROUP`), and only when it kept someone out, so
    /// that results keep the contract's shape otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leavers: Vec<String>,
    /// Listed members not added because an event of theirs newer than this roster was
    /// applied (a leaver's, say); only with the ledger on, and only when non-empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub superseded: Vec<String>,
    /// A dry run's plan removes more than `maxRemovals`: a real run of the same request
    /// fails with `MassRemovalBlocked`. Only in dry runs, and only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blocked: bool,
    /// The members this roster decided, `(userName, member or not)`, for the ledger.
    #[serde(skip)]
    pub(crate) decisions: Vec<(String, bool)>,
    /// The decisions about listed people no user has yet, for their hire to apply.
    #[serde(skip)]
    pub(crate) deferred: Vec<(String, bool)>,
}

impl SyncResult {
    /// The result of a request the ledger turned away: nothing written.
    pub(crate) fn skipped(display_name: &str, dry_run: bool, status: SyncStatus) -> Self {
        let mut result = Self::empty(display_name, dry_run);
        result.status = status;
        result
    }

    /// A result with nothing done yet.
    pub(crate) fn empty(display_name: &str, dry_run: bool) -> Self {
        Self {
            group_id: None,
            display_name: display_name.to_owned(),
            status: SyncStatus::Unchanged,
            dry_run,
            added: Vec::new(),
            removed: Vec::new(),
            unchanged: 0,
            unresolved: Vec::new(),
            leavers: Vec::new(),
            superseded: Vec::new(),
            blocked: false,
            decisions: Vec::new(),
            deferred: Vec::new(),
        }
    }
}

impl OnboardStatus {
    /// The status as the result spells it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}

impl OffboardStatus {
    /// The status as the result spells it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Deleted => "deleted",
            Self::Revoked => "revoked",
            Self::NotFound => "notFound",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}

impl SyncStatus {
    /// The status as the result spells it.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Planned => "planned",
            Self::NotFound => "notFound",
            Self::Stale => "stale",
            Self::Duplicate => "duplicate",
        }
    }
}
