//! The leavers fence: what keeps a revoked leaver out of groups that a concurrent
//! roster sync writes to.
//!
//! A revoke keeps the user, so nothing in the store stops a sync-group that resolved
//! the leaver a moment before the revoke from adding a membership just after the
//! revoke's last listing. With the fence on (the default; `LEAVERS_GROUP` names its
//! group), the two sides follow a handshake that needs no lock and no clock:
//!
//! - offboard-user (revoke) first makes the user a member of the leavers group (the
//!   mark), and only then lists and removes the user's other memberships;
//! - sync-group never adds a marked user, removes marked members it finds, and after
//!   its own adds reads the mark again and takes back any add of a user marked since.
//!
//! An add that lands after the revoke's last listing landed after the mark, so the
//! sync's read after its adds sees the mark and removes it; an add that lands before
//! the listing is removed by the revoke. Either way the leaver ends in no group.
//! onboard-user is the way back: onboarding an existing, marked user removes the mark.
//!
//! The handshake needs each side's read to see the other's completed write. Should
//! look-ups and listings lag behind writes (no AWS document promises they do not), each
//! side waits `LISTING_LAG_MS` before the read that must see them: the revoke between
//! its mark and its first listing (which then sees every add that landed before the
//! mark), the sync between its adds and its second read (which then sees every mark
//! that landed before its adds). With the wait at least the lag, the argument above
//! holds again; RELIABILITY.md, "Replication lag", measures both.

use std::collections::HashSet;
use std::time::Duration;

use crate::identitystore::IdentityStore;
use crate::{Deadline, Error};

/// Description of a leavers group that offboard-user creates.
const DESCRIPTION: &str = "Revoked leavers (Turnstile). A member here is kept out of every group Turnstile writes.";

/// The fence as the jobs see it: the store and the leavers group's name (`None`: off).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fence<'a> {
    store: &'a IdentityStore,
    group: Option<&'a str>,
    lag: Duration,
}

impl<'a> Fence<'a> {
    pub(crate) const fn new(store: &'a IdentityStore, group: Option<&'a str>, lag: Duration) -> Self {
        Self { store, group, lag }
    }

    /// Waits for this side's writes to reach the other side's reads (`LISTING_LAG_MS`).
    pub(crate) async fn catch_up(&self, deadline: Deadline) {
        super::catch_up(deadline, self.lag).await;
    }

    /// Whether a leavers group is configured (from the environment: `LEAVERS_GROUP`
    /// unset or naming a group; set empty, the fence is off).
    pub(crate) const fn is_on(&self) -> bool {
        self.group.is_some()
    }

    /// Refuses a request that would manage the leavers group itself: only revokes and
    /// onboarding write to it, or the fence would not hold.
    pub(crate) fn refuse(&self, path: &str, names: &[String]) -> Result<(), Error> {
        // Compared without case: the service may match display names that way.
        let Some(fence) = self.group.map(str::to_lowercase) else {
            return Ok(());
        };
        if names.iter().any(|n| n.to_lowercase() == fence) {
            return Err(Error::InvalidEvent(format!(
                "{path}: names the leavers group (LEAVERS_GROUP), which only offboard-user and onboard-user manage"
            )));
        }
        Ok(())
    }

    /// The leavers group's id; `None` when the fence is off, or when the group does not
    /// exist and `create` is false (no revoke has marked anyone yet).
    pub(crate) async fn group_id(&self, deadline: Deadline, create: bool) -> Result<Option<String>, Error> {
        let Some(name) = self.group else {
            return Ok(None);
        };
        match self.store.group_id(deadline, name).await? {
            Some(id) => Ok(Some(id)),
            None if create => Ok(Some(
                self.store
                    .create_group(deadline, name, Some(DESCRIPTION))
                    .await?
                    .id()
                    .to_owned(),
            )),
            None => Ok(None),
        }
    }

    /// The user ids the leavers group holds now (none without a group).
    pub(crate) async fn marked(&self, deadline: Deadline, fence: Option<&str>) -> Result<HashSet<String>, Error> {
        let Some(fence) = fence else {
            return Ok(HashSet::new());
        };
        Ok(self
            .store
            .memberships_of_group(deadline, fence)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect())
    }

    /// Marks the user as a leaver (creating the leavers group if needed): the revoke's
    /// first step, and an onboarding's when a revoke newer than it was applied before
    /// the user existed. Returns whether the fence is on.
    pub(crate) async fn mark(&self, deadline: Deadline, user_id: &str) -> Result<bool, Error> {
        let Some(fence) = self.group_id(deadline, true).await? else {
            return Ok(false);
        };
        self.store.create_membership(deadline, &fence, user_id).await?;
        Ok(true)
    }

    /// onboard-user's way back for a revoked leaver: removes the user's mark, if any.
    /// Returns whether there was one.
    pub(crate) async fn unmark(&self, deadline: Deadline, user_id: &str) -> Result<bool, Error> {
        let Some(fence) = self.group_id(deadline, false).await? else {
            return Ok(false);
        };
        let Some(mark) = self.store.membership_id(deadline, &fence, user_id).await? else {
            return Ok(false);
        };
        self.store.delete_membership(deadline, &mark).await?;
        Ok(true)
    }
}
