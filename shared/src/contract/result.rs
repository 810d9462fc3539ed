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
}

/// `groups` of onboard-user's result: display names, in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOutcome {
    pub added: Vec<String>,
    pub already_member: Vec<String>,
    pub created: Vec<String>,
}

/// onboard-user's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardResult {
    pub user_id: String,
    pub user_name: String,
    pub status: OnboardStatus,
    pub updated_attributes: Vec<&'static str>,
    pub groups: GroupOutcome,
}

/// `status` of offboard-user's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OffboardStatus {
    Deleted,
    Revoked,
    NotFound,
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
}

impl SyncResult {
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
        }
    }
}
