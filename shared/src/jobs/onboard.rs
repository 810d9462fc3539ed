//! onboard-user: the joiner and the mover.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::fence::Fence;
use super::ledger::{Claimed, Decision, Ledger, Subject};
use super::unique;
use crate::contract::user::convergence;
use crate::identitystore::{Ensured, IdentityStore};
use crate::{Config, Deadline, Error, GroupOutcome, OnboardRequest, OnboardResult, OnboardStatus, UserSpec};

/// `UserStatus` of a user an administrator disabled.
const DISABLED: &str = "DISABLED";

/// What an onboarding applies, after the ledger: every fact a newer event decided
/// stands (attributes, the mark, each membership).
struct Ordered {
    /// The requested groups to ensure.
    groups: Vec<String>,
    /// For each of `groups`, the order key of the decision this event applies: its
    /// own, or a newer roster's that listed the person.
    decided: Vec<String>,
    /// Requested groups a newer event decided the person is not in.
    superseded: Vec<String>,
    /// Converge the attributes (no newer onboard-user's were applied).
    attributes: bool,
    /// A newer revoke, applied before the user existed, still has to mark it.
    marked_later: bool,
    /// Rosters that listed the person before the user existed, and groups a delete
    /// took that a newer roster gave.
    deferred: Vec<Rejoin>,
}

/// A membership an onboarding applies for a roster's decision.
struct Rejoin {
    group: Subject,
    group_id: String,
    /// The roster's order key.
    decided: String,
}

/// A membership this attempt created, and the decision it applied (see
/// `Outcome::checks`): taken back if a roster decided the group meanwhile.
pub(crate) struct Joined {
    group: Subject,
    decided: String,
    membership_id: String,
}

impl Joined {
    /// `(group subject, order)`, as the ledger's finish checks it.
    pub(crate) fn check(&self) -> (String, String) {
        (self.group.key().to_owned(), self.decided.clone())
    }
}

/// The job, over the service's store and configuration.
pub(crate) struct Onboarding<'a> {
    pub(crate) store: &'a IdentityStore,
    pub(crate) config: &'a Config,
    pub(crate) fence: Fence<'a>,
    pub(crate) ledger: Ledger<'a>,
}

impl Onboarding<'_> {
    /// Creates the user or converges it, then ensures the listed memberships.
    ///
    /// Create-first: a joiner costs CreateUser plus, per group, GetGroupId and
    /// CreateGroupMembership. An existing user surfaces as a uniqueness conflict and is
    /// converged with at most one UpdateUser.
    ///
    /// With the ledger, it applies only what no newer event decided (see [`Ordered`]),
    /// and returns the memberships it created for the finish to check.
    pub(crate) async fn run(
        &self,
        deadline: Deadline,
        request: OnboardRequest,
        claimed: Option<Claimed>,
    ) -> Result<(OnboardResult, Vec<Joined>), Error> {
        let OnboardRequest { user, groups } = request;
        let groups = unique(groups.unwrap_or_default());
        self.fence.refuse("groups", &groups)?;
        let Some(ordered) = self
            .ordered(deadline, claimed.as_ref(), &user.user_name, groups)
            .await?
        else {
            return Ok((OnboardResult::skipped(user.user_name, OnboardStatus::Stale), Vec::new()));
        };
        let Ordered {
            groups,
            decided,
            superseded,
            attributes,
            marked_later,
            deferred,
        } = ordered;

        // With group creation off, a missing group must fail the request before any write.
        let known_groups = if self.config.create_missing_groups {
            None
        } else {
            let ids = self.group_ids(deadline, &groups).await?;
            let missing: Vec<&str> = groups
                .iter()
                .zip(&ids)
                .filter(|(_, id)| id.is_none())
                .map(|(name, _)| name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(Error::GroupNotFound {
                    missing: missing.len(),
                    names: missing.join(", "),
                });
            }
            Some(ids.into_iter().flatten().collect::<Vec<_>>())
        };

        let (user, unresolved) = self.with_manager_id(deadline, user, attributes).await?;
        let ensured = self.store.create_user(deadline, &user).await?;
        let (status, updated_attributes, user_status) = match &ensured {
            Ensured::Created(_) => (OnboardStatus::Created, Vec::new(), None),
            // A newer onboard-user's attributes stand.
            Ensured::Existing(_) if !attributes => (OnboardStatus::Unchanged, Vec::new(), None),
            Ensured::Existing(id) => {
                let stored = self
                    .store
                    .describe_user(deadline, id, user.enterprise.is_some())
                    .await?
                    .ok_or_else(|| Error::vanished("DescribeUser", "the user was deleted during the request"))?;
                let (changes, changed) = convergence(&user, &stored.user);
                if changes.is_empty() {
                    (OnboardStatus::Unchanged, changed, stored.status)
                } else {
                    self.store.update_user(deadline, id, &changes).await?;
                    (OnboardStatus::Updated, changed, stored.status)
                }
            }
        };
        let user_id = ensured.id().to_owned();
        tracing::info!(user_id, ?status, changed = updated_attributes.len(), "user converged");
        if !unresolved.is_empty() {
            // The name stays out of the log: it is the manager's, and personal data.
            tracing::warn!(
                user_id,
                "no user has the manager's userName; the manager was left as it is"
            );
        }
        if user_status.as_deref() == Some(DISABLED) {
            // The API cannot enable a user: only an administrator can, in the IAM
            // Identity Center console. Until then the person cannot sign in.
            tracing::warn!(
                user_id,
                "the user is disabled in IAM Identity Center; onboarding cannot enable it (an administrator must, \
                 in the IAM Identity Center console), and until then the person cannot sign in"
            );
        }

        // Onboarding an existing user says the person is active: a revoke's mark goes,
        // unless the revoke is newer than this event (applied before the user existed,
        // it could not mark it then).
        let unmark = async {
            match &ensured {
                _ if marked_later => self.fence.mark(deadline, &user_id).await.map(|_| false),
                Ensured::Existing(_) => self.fence.unmark(deadline, &user_id).await,
                Ensured::Created(_) => Ok(false),
            }
        };
        let ((mut groups, group_ids, mut joined), unmarked) = futures_util::try_join!(
            self.ensure_memberships(deadline, &user_id, &ensured, (groups, &decided), known_groups),
            unmark,
        )?;
        groups.superseded = superseded;
        joined.extend(self.rejoin(deadline, &user_id, deferred).await?);
        // `status` is about the user's attributes; the mark is a membership.
        if unmarked {
            tracing::info!(user_id, "leaver mark removed");
        }
        let result = OnboardResult {
            user_id: Some(user_id),
            user_name: user.user_name,
            status,
            user_status,
            updated_attributes,
            unresolved,
            groups,
            group_ids,
            applied_attributes: attributes,
        };
        Ok((result, joined))
    }

    /// Memberships for rosters' decisions: rosters that listed the person before the
    /// user existed, and groups a leave took that a newer roster gave.
    async fn rejoin(&self, deadline: Deadline, user_id: &str, deferred: Vec<Rejoin>) -> Result<Vec<Joined>, Error> {
        let mut joined = Vec::new();
        for rejoin in deferred {
            if let Ensured::Created(membership_id) = self
                .store
                .create_membership(deadline, &rejoin.group_id, user_id)
                .await?
            {
                joined.push(Joined {
                    group: rejoin.group,
                    decided: rejoin.decided,
                    membership_id,
                });
            }
        }
        Ok(joined)
    }

    /// Deletes the memberships of `joined` at `contested` (best effort: one that stays
    /// is logged; the event's retry then finds it and decides with the roster).
    pub(crate) async fn take_back(&self, deadline: Deadline, joined: &[Joined], contested: &[usize]) {
        for joined in contested.iter().filter_map(|i| joined.get(*i)) {
            if let Err(error) = self.store.delete_membership(deadline, &joined.membership_id).await {
                tracing::warn!(%error, "a membership a roster decided meanwhile could not be taken back");
            }
        }
    }

    /// The request's user with `enterprise.manager` as the manager's user id (one
    /// GetUserId), and the manager's userName when no user has it; the manager is then
    /// left as it is, and a later event converges it. When the attributes are not to be
    /// converged (a newer onboarding's stand), the manager is dropped unresolved.
    async fn with_manager_id(
        &self,
        deadline: Deadline,
        mut user: UserSpec,
        attributes: bool,
    ) -> Result<(UserSpec, Vec<String>), Error> {
        let name = match user.enterprise.as_mut().and_then(|e| e.manager.take()) {
            Some(name) if attributes => name,
            _ => return Ok((user, Vec::new())),
        };
        let Some(id) = self.store.user_id(deadline, &name).await? else {
            return Ok((user, vec![name]));
        };
        if let Some(enterprise) = user.enterprise.as_mut() {
            enterprise.manager = Some(id);
        }
        Ok((user, Vec::new()))
    }

    /// `(group id, display name, order key)` of each group that still exists.
    async fn named_groups(
        &self,
        deadline: Deadline,
        groups: &[(String, String)],
    ) -> Result<Vec<(String, String, String)>, Error> {
        let named: Vec<Option<String>> = stream::iter(groups)
            .map(|(id, _)| async move {
                Ok::<_, Error>(
                    self.store
                        .describe_group(deadline, id)
                        .await?
                        .and_then(|(name, _)| name),
                )
            })
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await?;
        Ok(groups
            .iter()
            .zip(named)
            .filter_map(|((id, order), name)| Some((id.clone(), name?, order.clone())))
            .collect())
    }

    /// What the ledger leaves this onboarding to do; `None` when nothing (`stale`).
    /// Without the ledger (or a time), everything.
    async fn ordered(
        &self,
        deadline: Deadline,
        claimed: Option<&Claimed>,
        user_name: &str,
        groups: Vec<String>,
    ) -> Result<Option<Ordered>, Error> {
        let Some(claimed) = claimed else {
            return Ok(Some(Ordered {
                decided: Vec::new(),
                groups,
                superseded: Vec::new(),
                attributes: true,
                marked_later: false,
                deferred: Vec::new(),
            }));
        };
        // A newer delete decided the person is gone.
        if claimed.deleted_later() {
            return Ok(None);
        }
        let deferred = claimed.deferred_joins();
        // A newer leave took every group away and voids every waiting decision (below),
        // so no group's name or head is needed.
        let left_later = claimed.left_later();
        // Memberships a leave took that a roster newer than the leave decided (delivered
        // before the leave): named to read their groups' heads.
        let taken = if left_later {
            Vec::new()
        } else {
            self.named_groups(deadline, claimed.taken_by_leave()).await?
        };
        let asked: Vec<(Subject, String)> = groups
            .iter()
            .map(|g| (Subject::group(g), claimed.order.clone()))
            .chain(deferred.iter().map(|(group, _, order)| (group.clone(), order.clone())))
            .chain(
                taken
                    .iter()
                    .map(|(_, name, order)| (Subject::group(name), order.clone())),
            )
            .collect();
        // A checked claim found no newer roster decision in the listed groups, and
        // (all of the person's facts being older) leaves nothing else to ask.
        let decisions = if left_later || asked.is_empty() || claimed.groups_checked() {
            Vec::new()
        } else {
            self.ledger.group_decisions(user_name, &asked).await?
        };
        let (requested, later) = decisions.split_at(groups.len().min(decisions.len()));
        let (later, taken_decisions) = later.split_at(deferred.len().min(later.len()));
        // A newer leave took every group away; a newer roster event took this one.
        let mut kept = Vec::new();
        let mut decided = Vec::new();
        let mut superseded = Vec::new();
        for (group, decision) in groups.into_iter().zip(requested.iter().chain(std::iter::repeat(&None))) {
            if left_later || decision.as_ref().is_some_and(|d| !d.member) {
                superseded.push(group);
            } else {
                decided.push(
                    decision
                        .as_ref()
                        .map_or(claimed.order.as_str(), Decision::order)
                        .to_owned(),
                );
                kept.push(group);
            }
        }
        // A roster's decision taken before the user existed holds unless a newer one of
        // the group, or a newer leave, overrode it. A newer roster that also decided the
        // person is a member stands in its place: it found the user and the membership
        // (one an onboarding wrote, then took back when its finish met that roster).
        let mut deferred: Vec<Rejoin> = deferred
            .into_iter()
            .zip(later)
            .filter_map(|((group, group_id, order), decision)| {
                let (member, decided) = decision
                    .as_ref()
                    .map_or((true, order), |d| (d.member, d.order().to_owned()));
                // Only a decision taken after this event: an older roster saw the person
                // as they were then (not hired yet, or marked), which this event does
                // not undo.
                (member && decided > claimed.order && !claimed.left_after(&decided)).then_some(Rejoin {
                    group,
                    group_id,
                    decided,
                })
            })
            .collect();
        deferred.extend(
            taken
                .into_iter()
                .zip(taken_decisions)
                .filter_map(|((group_id, name, _), decision)| {
                    let d = decision.as_ref()?;
                    (d.member && d.order() > claimed.order.as_str() && !claimed.left_after(d.order())).then(|| Rejoin {
                        group: Subject::group(&name),
                        group_id,
                        decided: d.order().to_owned(),
                    })
                }),
        );
        // A person a newer revoke marked stays out of every group: waiting decisions are
        // for the re-hire that takes the mark off, never for an older event.
        let marked_later = self.fence.is_on() && claimed.marked_later();
        if marked_later || left_later {
            deferred.clear();
        }
        let attributes = !claimed.attributes_newer();
        if !attributes && kept.is_empty() && deferred.is_empty() {
            return Ok(None);
        }
        Ok(Some(Ordered {
            groups: kept,
            decided,
            superseded,
            attributes,
            marked_later,
            deferred,
        }))
    }

    async fn group_ids(&self, deadline: Deadline, names: &[String]) -> Result<Vec<Option<String>>, Error> {
        stream::iter(names)
            .map(|name| self.store.group_id(deadline, name))
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await
    }

    async fn ensure_memberships(
        &self,
        deadline: Deadline,
        user_id: &str,
        user: &Ensured,
        (names, decided): (Vec<String>, &[String]),
        known_groups: Option<Vec<String>>,
    ) -> Result<(GroupOutcome, Vec<String>, Vec<Joined>), Error> {
        let mut outcome = GroupOutcome::default();
        if names.is_empty() {
            return Ok((outcome, Vec::new(), Vec::new()));
        }
        let groups: Vec<Ensured> = match known_groups {
            Some(ids) => ids.into_iter().map(Ensured::Existing).collect(),
            None => {
                stream::iter(&names)
                    .map(|name| async move {
                        match self.store.group_id(deadline, name).await? {
                            Some(id) => Ok(Ensured::Existing(id)),
                            None => self.store.create_group(deadline, name, None).await,
                        }
                    })
                    .buffered(self.config.write_concurrency)
                    .try_collect()
                    .await?
            }
        };
        // A user this call created, and groups it created, cannot have memberships yet;
        // only pre-existing pairs need the (single) IsMemberInGroups check.
        let existing: Vec<String> = match user {
            Ensured::Created(_) => Vec::new(),
            Ensured::Existing(_) => groups
                .iter()
                .filter_map(|g| match g {
                    Ensured::Existing(id) => Some(id.clone()),
                    Ensured::Created(_) => None,
                })
                .collect(),
        };
        let already: HashSet<String> = if existing.is_empty() {
            HashSet::new()
        } else {
            self.store
                .member_of(deadline, user_id, &existing)
                .await?
                .into_iter()
                .collect()
        };
        let to_add: Vec<(usize, &Ensured)> = groups
            .iter()
            .enumerate()
            .filter(|(_, g)| !already.contains(g.id()))
            .collect();
        let added: Vec<Ensured> = stream::iter(&to_add)
            .map(|(_, group)| self.store.create_membership(deadline, group.id(), user_id))
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await?;
        // Each membership this call created, with the decision it applied.
        let mut added_by_us = HashSet::new();
        let mut joined = Vec::new();
        for ((i, group), membership) in to_add.iter().zip(added) {
            if let Ensured::Created(membership_id) = membership {
                added_by_us.insert(group.id());
                joined.push(Joined {
                    group: Subject::group(&names[*i]),
                    decided: decided.get(*i).cloned().unwrap_or_default(),
                    membership_id,
                });
            }
        }
        for (name, group) in names.iter().zip(&groups) {
            if matches!(group, Ensured::Created(_)) {
                outcome.created.push(name.clone());
            }
            if added_by_us.contains(group.id()) {
                outcome.added.push(name.clone());
            } else {
                outcome.already_member.push(name.clone());
            }
        }
        tracing::info!(
            user_id,
            added = outcome.added.len(),
            already_member = outcome.already_member.len(),
            created_groups = outcome.created.len(),
            "memberships ensured"
        );
        Ok((outcome, groups.iter().map(|g| g.id().to_owned()).collect(), joined))
    }
}
