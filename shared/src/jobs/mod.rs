//! The jobs, one per deployed function, and the leavers fence they share.
//!
//! [`Function`] is the one list of functions: the binaries, the scripts (through
//! `cargo xtask describe`), the infrastructure tests and the reliability suite all read
//! it. Each function declares the Identity Store operations its job may send; the IAM
//! policies are checked against that list, and in debug builds (every test) a call
//! outside it panics, so the list cannot fall behind the code.

use std::future::Future;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Deadline, Error, EventMeta, OffboardRequest, OffboardResult, OnboardRequest, OnboardResult, Service, SyncRequest,
    SyncResult, Validate,
};

pub(crate) mod fence;
pub(crate) mod ledger;
pub(crate) mod offboard;
pub(crate) mod onboard;
pub(crate) mod sync;

/// A deployed function: one binary under `functions/<name>`, one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    OnboardUser,
    OffboardUser,
    SyncGroup,
}

impl Function {
    /// Every function, in the order the documentation lists them.
    pub const ALL: [Self; 3] = [Self::OnboardUser, Self::OffboardUser, Self::SyncGroup];

    /// The binary's (and the crate's, and the template's `Binary`) name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OnboardUser => "onboard-user",
            Self::OffboardUser => "offboard-user",
            Self::SyncGroup => "sync-group",
        }
    }

    /// The function named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The Identity Store operations the job may send, sorted: exactly the actions its
    /// IAM policy allows (infra/tests/test_iam.py).
    pub const fn identity_store_operations(self) -> &'static [&'static str] {
        match self {
            // The user, its groups and memberships; GetGroupMembershipId and
            // DeleteGroupMembership also take a re-hired leaver's mark away, and
            // DeleteGroupMembership a membership it wrote while a roster decided the group.
            // DescribeGroup names the groups a leave took (ledger).
            Self::OnboardUser => &[
                "CreateGroup",
                "CreateGroupMembership",
                "CreateUser",
                "DeleteGroupMembership",
                "DescribeGroup",
                "DescribeUser",
                "GetGroupId",
                "GetGroupMembershipId",
                "GetUserId",
                "IsMemberInGroups",
                "UpdateUser",
            ],
            // CreateGroup and CreateGroupMembership are the revoke's mark (the leavers
            // group and the membership in it).
            // DescribeGroup names the groups of a leave older than a re-hire, for their
            // roster decisions (ledger).
            Self::OffboardUser => &[
                "CreateGroup",
                "CreateGroupMembership",
                "DeleteGroupMembership",
                "DeleteUser",
                "DescribeGroup",
                "GetGroupId",
                "GetGroupMembershipId",
                "GetUserId",
                "ListGroupMembershipsForMember",
            ],
            Self::SyncGroup => &[
                "CreateGroup",
                "CreateGroupMembership",
                "DeleteGroupMembership",
                "DescribeGroup",
                "DescribeUser",
                "GetGroupId",
                "GetGroupMembershipId",
                "GetUserId",
                "ListGroupMemberships",
                "ListUsers",
                "UpdateGroup",
            ],
        }
    }
}

impl Function {
    /// The DynamoDB actions the function's ledger calls need, sorted: exactly what its
    /// IAM policy allows on the ledger table, and nothing on any other table. A
    /// TransactWriteItems needs the actions of its parts (PutItem, UpdateItem).
    pub const fn ledger_actions(self) -> &'static [&'static str] {
        match self {
            // Every function reads other subjects' heads (a roster its members', a person's
            // event their groups') for newer decisions about the same memberships
            // (docs/contract.md, "Memberships"), checks a late event's record in the
            // transaction that gives a repeat's claim back, and reads the record of an
            // event its head turned away (`stale` or `duplicate`) without a claim.
            // onboard-user's claim also checks the listed groups' heads and the record, and
            // its finish the heads of the groups it joined.
            Self::OnboardUser | Self::OffboardUser | Self::SyncGroup => {
                &["BatchGetItem", "ConditionCheckItem", "GetItem", "PutItem", "UpdateItem"]
            }
        }
    }
}

/// A function's job: its request, its result and how the service applies it.
pub trait Job {
    const FUNCTION: Function;
    type Request: DeserializeOwned + Validate;
    type Result: Serialize;

    /// The result's `status`, as the result spells it.
    fn status(result: &Self::Result) -> &'static str;

    fn apply(
        service: &Service,
        deadline: Deadline,
        event: &EventMeta,
        request: Self::Request,
    ) -> impl Future<Output = Result<Self::Result, Error>>;
}

/// onboard-user's job.
#[derive(Debug)]
pub struct Onboard;

impl Job for Onboard {
    const FUNCTION: Function = Function::OnboardUser;
    type Request = OnboardRequest;
    type Result = OnboardResult;

    fn status(result: &OnboardResult) -> &'static str {
        result.status.name()
    }

    fn apply(
        service: &Service,
        deadline: Deadline,
        event: &EventMeta,
        request: OnboardRequest,
    ) -> impl Future<Output = Result<OnboardResult, Error>> {
        service.onboard_event(deadline, event, request)
    }
}

/// offboard-user's job.
#[derive(Debug)]
pub struct Offboard;

impl Job for Offboard {
    const FUNCTION: Function = Function::OffboardUser;
    type Request = OffboardRequest;
    type Result = OffboardResult;

    fn status(result: &OffboardResult) -> &'static str {
        result.status.name()
    }

    fn apply(
        service: &Service,
        deadline: Deadline,
        event: &EventMeta,
        request: OffboardRequest,
    ) -> impl Future<Output = Result<OffboardResult, Error>> {
        service.offboard_event(deadline, event, request)
    }
}

/// sync-group's job.
#[derive(Debug)]
pub struct SyncGroup;

impl Job for SyncGroup {
    const FUNCTION: Function = Function::SyncGroup;
    type Request = SyncRequest;
    type Result = SyncResult;

    fn status(result: &SyncResult) -> &'static str {
        result.status.name()
    }

    fn apply(
        service: &Service,
        deadline: Deadline,
        event: &EventMeta,
        request: SyncRequest,
    ) -> impl Future<Output = Result<SyncResult, Error>> {
        service.sync_group_event(deadline, event, request)
    }
}

tokio::task_local! {
    /// The function whose job the current task runs (set by [`crate::handle`]).
    static RUNNING: Function;
}

/// Runs `job` as `function`'s, so that [`check_declared`] knows whose calls it sees.
pub(crate) async fn running<T>(function: Function, job: impl Future<Output = T>) -> T {
    RUNNING.scope(function, job).await
}

/// Debug builds (every test) panic on an Identity Store call that the running
/// function does not declare: its IAM policy would deny it in AWS.
pub(crate) fn check_declared(operation: &str) {
    if cfg!(debug_assertions) {
        let _outside_a_job = RUNNING.try_with(|function| {
            assert!(
                function.identity_store_operations().contains(&operation),
                "{} sent {operation}, which Function::identity_store_operations does not declare for it \
                 (and its IAM policy would deny)",
                function.name()
            );
        });
    }
}

/// Waits `lag` (`LISTING_LAG_MS`), as long as the deadline leaves time for, so that
/// the look-ups and listings after it see every write completed before it even if the
/// store's reads lag behind its writes by up to `lag`. Past the deadline the read goes
/// ahead, and a re-delivery reads again.
pub(crate) async fn catch_up(deadline: Deadline, lag: std::time::Duration) {
    if lag.is_zero() {
        return;
    }
    tokio::time::sleep(deadline.remaining().map_or(lag, |left| left.min(lag))).await;
}

/// Drops repeated names, keeping the first occurrence's position: HR exports repeat
/// people and groups, and the jobs act on each name once.
fn unique(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names.into_iter().filter(|n| seen.insert(n.clone())).collect()
}

/// [`check_declared`] for the ledger's DynamoDB actions.
pub(crate) fn check_ledger(actions: &[&str]) {
    if cfg!(debug_assertions) {
        let _outside_a_job = RUNNING.try_with(|function| {
            for action in actions {
                assert!(
                    function.ledger_actions().contains(action),
                    "{} needs dynamodb:{action}, which Function::ledger_actions does not declare for it",
                    function.name()
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{Function, check_declared, running};

    #[tokio::test]
    #[should_panic(expected = "offboard-user sent CreateUser")]
    async fn a_call_the_running_function_does_not_declare_panics_in_tests() {
        running(Function::OffboardUser, async { check_declared("CreateUser") }).await;
    }

    #[tokio::test]
    async fn a_declared_call_and_a_call_outside_any_job_pass() {
        running(Function::OffboardUser, async { check_declared("DeleteUser") }).await;
        check_declared("CreateUser");
    }

    #[test]
    fn every_function_is_found_by_its_name_and_declares_sorted_operations() {
        for function in Function::ALL {
            assert_eq!(Function::from_name(function.name()), Some(function));
            let operations = function.identity_store_operations();
            assert!(operations.is_sorted(), "{}: {operations:?}", function.name());
            assert!(function.ledger_actions().is_sorted(), "{}", function.name());
        }
    }
}
