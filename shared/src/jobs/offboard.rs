//! offboard-user: the leaver.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::fence::Fence;
use super::ledger::{Claimed, Ledger, Subject};
use crate::identitystore::IdentityStore;
use crate::{Config, Deadline, Error, OffboardMode, OffboardRequest, OffboardResult, OffboardStatus};

/// The job, over the service's store and configuration.
pub(crate) struct Offboarding<'a> {
    pub(crate) store: &'a IdentityStore,
    pub(crate) config: &'a Config,
    pub(crate) fence: Fence<'a>,
    pub(crate) ledger: Ledger<'a>,
}

impl Offboarding<'_> {
    /// Removes every membership, then deletes the user (`delete`) or keeps it (`revoke`).
    /// With the fence on (`LEAVERS_GROUP`), a revoke first marks the user as a leaver by
    /// making it a member of that group, which it keeps.
    ///
    /// Memberships go first, so a failure half-way leaves a user without access rather
    /// than a deleted user with dangling memberships, and a retry finishes the job.
    ///
    /// With the ledger, a leave older than a newer event of the person applies only
    /// what no newer event decided: nothing after a newer leave or delete; after a newer
    /// onboard-user (a re-hire), only the removal of memberships decided before it.
    pub(crate) async fn run(
        &self,
        deadline: Deadline,
        request: OffboardRequest,
        claimed: Option<Claimed>,
    ) -> Result<OffboardResult, Error> {
        let OffboardRequest { user_name, mode } = request;
        // A leaver hired a moment ago must be found, and every membership added before
        // this event listed (LISTING_LAG_MS).
        super::catch_up(deadline, self.config.listing_lag).await;
        if let Some(claimed) = &claimed {
            if claimed.deleted_later() || (mode == OffboardMode::Revoke && claimed.left_later()) {
                return Ok(OffboardResult::nothing(user_name, OffboardStatus::Stale));
            }
            let rehired = match mode {
                OffboardMode::Revoke => claimed.overtaken(),
                OffboardMode::Delete => claimed.exists_later(),
            };
            if rehired {
                // After the same event's revoke, nothing is left that this leave decides.
                if claimed.left_by_this_event() {
                    return Ok(OffboardResult::nothing(user_name, OffboardStatus::Stale));
                }
                return self.before_rehire(deadline, user_name, claimed).await;
            }
        }
        let Some(user_id) = self.store.user_id(deadline, &user_name).await? else {
            tracing::info!("no such user; nothing to offboard");
            return Ok(OffboardResult::nothing(user_name, OffboardStatus::NotFound));
        };

        // A revoke's mark goes first: a roster sync that adds the user after the listings
        // below finds it and takes its add back (see `fence`). A delete removes a mark
        // only once the user is gone, so that a delete failing half-way leaves the user
        // marked rather than free to be added back.
        let fence = self.fence.group_id(deadline, mode == OffboardMode::Revoke).await?;
        if let (Some(fence), OffboardMode::Revoke) = (&fence, mode) {
            self.store.create_membership(deadline, fence, &user_id).await?;
            self.fence.catch_up(deadline).await;
        }

        let mut removed = HashSet::new();
        let mut group_ids = Vec::new();
        let mut marks;
        loop {
            let listed = self.store.memberships_of_user(deadline, &user_id).await?;
            // A listing may lag behind deletes just made; those are done already.
            let (mark, fresh): (Vec<_>, Vec<_>) = listed
                .into_iter()
                .filter(|m| !removed.contains(&m.membership_id))
                .partition(|m| Some(&m.group_id) == fence.as_ref());
            marks = mark;
            if fresh.is_empty() {
                break;
            }
            stream::iter(&fresh)
                .map(|m| self.store.delete_membership(deadline, &m.membership_id))
                .buffer_unordered(self.config.write_concurrency)
                .try_collect::<()>()
                .await?;
            for m in fresh {
                removed.insert(m.membership_id);
                group_ids.push(m.group_id);
            }
            // A deleted user cannot sign in, whatever was added meanwhile. A revoked one
            // can, so the listing is repeated until it shows nothing new: a membership
            // added concurrently (by sync-group, say) does not survive the leaver.
            if mode == OffboardMode::Delete {
                break;
            }
        }

        let status = match mode {
            OffboardMode::Delete => {
                self.store.delete_user(deadline, &user_id).await?;
                for mark in &marks {
                    self.store.delete_membership(deadline, &mark.membership_id).await?;
                }
                OffboardStatus::Deleted
            }
            OffboardMode::Revoke => OffboardStatus::Revoked,
        };
        tracing::info!(
            user_id,
            ?status,
            marked = fence.is_some(),
            removed_memberships = group_ids.len(),
            "user offboarded"
        );
        Ok(OffboardResult {
            user_name,
            user_id: Some(user_id),
            status,
            removed_memberships: group_ids.len(),
            group_ids,
            left_before_rehire: false,
            checks: Vec::new(),
        })
    }

    /// A leave older than the person's re-hire: the person stays (unmarked), and only
    /// the memberships that no event after the leave decided go. Each membership's group
    /// is named (DescribeGroup) to read its roster decisions.
    async fn before_rehire(
        &self,
        deadline: Deadline,
        user_name: String,
        claimed: &Claimed,
    ) -> Result<OffboardResult, Error> {
        // Whatever it removes, the leave is recorded (`left`): an older roster or
        // onboarding delivered after it must not add back what it took in time order.
        let decided = |user_name| OffboardResult {
            left_before_rehire: true,
            ..OffboardResult::nothing(user_name, OffboardStatus::Stale)
        };
        let Some(user_id) = self.store.user_id(deadline, &user_name).await? else {
            return Ok(decided(user_name));
        };
        let fence = self.fence.group_id(deadline, false).await?;
        let listed: Vec<_> = self
            .store
            .memberships_of_user(deadline, &user_id)
            .await?
            .into_iter()
            .filter(|m| Some(&m.group_id) != fence.as_ref() && !claimed.joined_later(&m.group_id))
            .collect();
        let names: Vec<Option<String>> = stream::iter(&listed)
            .map(|m| async move {
                Ok::<_, Error>(
                    self.store
                        .describe_group(deadline, &m.group_id)
                        .await?
                        .and_then(|(name, _)| name),
                )
            })
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await?;
        let asked: Vec<(Subject, String)> = names
            .iter()
            .map(|name| {
                (
                    Subject::group(name.as_deref().unwrap_or_default()),
                    claimed.order.clone(),
                )
            })
            .collect();
        let decisions = if asked.is_empty() {
            Vec::new()
        } else {
            self.ledger.group_decisions(&user_name, &asked).await?
        };
        // Each removal goes with the decision it applied (the newer roster's that the
        // person is not a member, or this leave's own): a roster that decides the group
        // after it, having listed the membership before this removal, is caught by the
        // finish, and the membership is put back.
        let (gone, checks): (Vec<_>, Vec<_>) = listed
            .into_iter()
            .zip(decisions)
            .zip(asked)
            .filter(|((_, decision), _)| !decision.as_ref().is_some_and(|d| d.member))
            .map(|((m, decision), (group, own))| {
                let decided = decision.map_or(own, |d| d.order().to_owned());
                (m, (group.key().to_owned(), decided))
            })
            .unzip();
        stream::iter(&gone)
            .map(|m| self.store.delete_membership(deadline, &m.membership_id))
            .buffer_unordered(self.config.write_concurrency)
            .try_collect::<()>()
            .await?;
        let group_ids: Vec<String> = gone.into_iter().map(|m| m.group_id).collect();
        tracing::info!(
            user_id,
            removed_memberships = group_ids.len(),
            "leave older than a re-hire applied"
        );
        if group_ids.is_empty() {
            return Ok(decided(user_name));
        }
        Ok(OffboardResult {
            user_name,
            user_id: Some(user_id),
            status: OffboardStatus::Revoked,
            removed_memberships: group_ids.len(),
            group_ids,
            left_before_rehire: true,
            checks,
        })
    }

    /// Puts back the memberships of `result` at `contested` (best effort: one that
    /// stays out is logged, as it would be in time order after a failed write).
    pub(crate) async fn put_back(&self, deadline: Deadline, result: &OffboardResult, contested: &[usize]) {
        let Some(user_id) = &result.user_id else { return };
        for group_id in contested.iter().filter_map(|i| result.group_ids.get(*i)) {
            if let Err(error) = self.store.create_membership(deadline, group_id, user_id).await {
                tracing::warn!(%error, "a membership a roster decided meanwhile could not be put back");
            }
        }
    }
}
