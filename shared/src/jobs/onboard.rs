//! onboard-user: the joiner and the mover.

use std::collections::HashSet;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::fence::Fence;
use super::unique;
use crate::contract::user::convergence;
use crate::identitystore::{Ensured, IdentityStore};
use crate::{Config, Deadline, Error, GroupOutcome, OnboardRequest, OnboardResult, OnboardStatus};

/// `UserStatus` of a user an administrator disabled.
const DISABLED: &str = "DISABLED";

/// The job, over the service's store and configuration.
pub(crate) struct Onboarding<'a> {
    pub(crate) store: &'a IdentityStore,
    pub(crate) config: &'a Config,
    pub(crate) fence: Fence<'a>,
}

impl Onboarding<'_> {
    /// Creates the user or converges it, then ensures the listed memberships.
    ///
    /// Create-first: a joiner costs CreateUser plus, per group, GetGroupId and
    /// CreateGroupMembership. An existing user surfaces as a uniqueness conflict and is
    /// converged with at most one UpdateUser.
    pub(crate) async fn run(&self, deadline: Deadline, request: OnboardRequest) -> Result<OnboardResult, Error> {
        let OnboardRequest { user, groups } = request;
        let groups = unique(groups.unwrap_or_default());
        self.fence.refuse("groups", &groups)?;

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

        let ensured = self.store.create_user(deadline, &user).await?;
        let (status, updated_attributes, user_status) = match &ensured {
            Ensured::Created(_) => (OnboardStatus::Created, Vec::new(), None),
            Ensured::Existing(id) => {
                let stored = self
                    .store
                    .describe_user(deadline, id)
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
        if user_status.as_deref() == Some(DISABLED) {
            // The API cannot enable a user: only an administrator can, in the IAM
            // Identity Center console. Until then the person cannot sign in.
            tracing::warn!(
                user_id,
                "the user is disabled in IAM Identity Center; onboarding cannot enable it (an administrator must, \
                 in the IAM Identity Center console), and until then the person cannot sign in"
            );
        }

        // Onboarding an existing user says the person is active: a revoke's mark goes.
        let unmark = async {
            match &ensured {
                Ensured::Existing(_) => self.fence.unmark(deadline, &user_id).await,
                Ensured::Created(_) => Ok(false),
            }
        };
        let ((groups, group_ids), unmarked) = futures_util::try_join!(
            self.ensure_memberships(deadline, &user_id, &ensured, groups, known_groups),
            unmark,
        )?;
        // `status` is about the user's attributes; the mark is a membership.
        if unmarked {
            tracing::info!(user_id, "leaver mark removed");
        }
        Ok(OnboardResult {
            user_id: Some(user_id),
            user_name: user.user_name,
            status,
            user_status,
            updated_attributes,
            groups,
            group_ids,
        })
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
        names: Vec<String>,
        known_groups: Option<Vec<String>>,
    ) -> Result<(GroupOutcome, Vec<String>), Error> {
        let mut outcome = GroupOutcome::default();
        if names.is_empty() {
            return Ok((outcome, Vec::new()));
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
        let to_add: Vec<(&String, &Ensured)> = names
            .iter()
            .zip(&groups)
            .filter(|(_, g)| !already.contains(g.id()))
            .collect();
        let added: Vec<Ensured> = stream::iter(&to_add)
            .map(|(_, group)| self.store.create_membership(deadline, group.id(), user_id))
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await?;
        let added_by_us: HashSet<&str> = to_add
            .iter()
            .zip(&added)
            .filter(|(_, m)| matches!(m, Ensured::Created(_)))
            .map(|((_, g), _)| g.id())
            .collect();
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
        Ok((outcome, groups.iter().map(|g| g.id().to_owned()).collect()))
    }
}
