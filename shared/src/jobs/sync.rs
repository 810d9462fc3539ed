//! sync-group: a group's roster from HR, reconciled by diff.

use std::collections::{HashMap, HashSet};

use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{StreamExt, TryStreamExt, stream};

use super::fence::Fence;
use super::ledger::{Claimed, Ledger, newest};
use super::unique;
use crate::identitystore::{Ensured, IdentityStore, Membership, PAGE_SIZE};
use crate::{Config, Deadline, Error, GroupSpec, SyncMode, SyncRequest, SyncResult, SyncStatus};

/// How many users this execution environment saw on its last full ListUsers (0: none
/// yet), to price the next roster resolution.
#[derive(Debug, Default)]
pub(crate) struct StoreSize(AtomicUsize);

/// The job, over the service's store and configuration.
pub(crate) struct Roster<'a> {
    pub(crate) store: &'a IdentityStore,
    pub(crate) config: &'a Config,
    pub(crate) fence: Fence<'a>,
    pub(crate) store_size: &'a StoreSize,
    pub(crate) ledger: Ledger<'a>,
    /// The ledger's claim on the group for this roster event.
    pub(crate) claimed: Option<Claimed>,
}

/// How listed userNames are turned into user ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// One GetUserId per name (and one DescribeUser per removed member, for its name).
    Lookup,
    /// Page through ListUsers once; names of removed members come with it.
    ListUsers,
}

/// Picks the cheaper way to resolve `names` userNames for a group of `current` members,
/// counted in API calls: lookups cost a call per name plus one per removal the plan is
/// sure to make (a replace that lists fewer names than the group has must remove at
/// least the difference); a listing costs a page per 100 users in the store, whose size
/// is estimated from `EXPECTED_STORE_USERS` and what this execution environment saw on
/// its last full listing.
pub(crate) fn choose_resolution(mode: SyncMode, names: usize, current: usize, store_users: usize) -> Resolution {
    let removals = if mode == SyncMode::Replace {
        current.saturating_sub(names)
    } else {
        0
    };
    let lookup_cost = names + removals;
    let page = usize::try_from(PAGE_SIZE).unwrap_or(100);
    let list_cost = store_users.max(current).max(1).div_ceil(page);
    // Ties go to lookups: they run concurrently, pages one after another.
    if list_cost < lookup_cost {
        Resolution::ListUsers
    } else {
        Resolution::Lookup
    }
}

/// The resolution, when the group's member count cannot change the choice: for add
/// and remove (no removal needs a name), and for a replace whose names alone already
/// cost more lookups than the whole listing (removals only add lookups).
pub(crate) fn choose_resolution_early(mode: SyncMode, names: usize, store_users: usize) -> Option<Resolution> {
    let listing = choose_resolution(SyncMode::Add, names, 0, store_users);
    match (mode, listing) {
        (SyncMode::Add | SyncMode::Remove, strategy) | (SyncMode::Replace, strategy @ Resolution::ListUsers) => {
            Some(strategy)
        }
        (SyncMode::Replace, Resolution::Lookup) => None,
    }
}

/// Whether a plan of `planned` removals is over `limit`: an error before any write, or
/// in a dry run `true`, so that an operator previews what a real run would refuse.
fn removal_blocked(planned: usize, limit: usize, dry_run: bool) -> Result<bool, Error> {
    if planned <= limit {
        return Ok(false);
    }
    tracing::warn!(planned, limit, dry_run, "mass removal blocked");
    if dry_run {
        Ok(true)
    } else {
        Err(Error::MassRemovalBlocked { planned, limit })
    }
}

impl Roster<'_> {
    /// Ensures the group, resolves the listed userNames, and writes only the difference
    /// between the roster and the group.
    pub(crate) async fn run(&self, deadline: Deadline, request: SyncRequest) -> Result<SyncResult, Error> {
        let SyncRequest {
            group,
            members,
            mode,
            dry_run,
            max_removals,
        } = request;
        let names = unique(members);
        let limit = max_removals.map_or(self.config.max_removals, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let mut result = SyncResult::empty(&group.display_name, dry_run);
        self.fence
            .refuse("group.displayName", std::slice::from_ref(&group.display_name))?;

        // Every person and membership written before this roster is to be found
        // (LISTING_LAG_MS).
        super::catch_up(deadline, self.config.listing_lag).await;
        // A remove never adds, so only the other modes need the leavers fence.
        let fenced = self.fence.is_on() && mode != SyncMode::Remove;
        let (existing, fence) = futures_util::try_join!(self.store.group_id(deadline, &group.display_name), async {
            if fenced {
                self.fence.group_id(deadline, false).await
            } else {
                Ok(None)
            }
        },)?;
        if existing.is_none() && mode == SyncMode::Remove {
            return Ok(self.remove_from_missing_group(&names, result));
        }
        let ((description_update, current, directory), marked) = futures_util::try_join!(
            self.survey(
                deadline,
                existing.as_deref(),
                group.description.as_deref(),
                mode,
                &names,
            ),
            self.fence.marked(deadline, fence.as_deref()),
        )?;
        let mut plan = diff(mode, &names, &directory, &current, &marked);
        let named_removals = self
            .keep_newer_decisions(
                deadline,
                (existing.as_deref(), mode),
                (&names, &directory, &marked),
                &current,
                &mut plan,
                &mut result,
            )
            .await?;
        let Diff {
            to_add,
            to_remove,
            unresolved,
            leavers,
            leaver_removals,
        } = plan;
        result.unresolved = unresolved;
        result.leavers = leavers;
        result.leavers.sort();
        // Removing a marked leaver is the fence's doing, not the roster's: it is never
        // blocked, or one leaver could keep a group's every later sync failing.
        result.blocked = removal_blocked(to_remove.len() - leaver_removals, limit, dry_run)?;

        result.added = to_add.iter().map(|(name, _)| name.clone()).collect();
        result.unchanged = current.len() - to_remove.len();
        result.group_id.clone_from(&existing);

        if dry_run {
            result.removed = self.removed(deadline, named_removals, &current, &to_remove).await?;
            result.status = SyncStatus::Planned;
            return Ok(result);
        }

        let wrote_description = description_update.is_some();
        let group_id = self
            .ensure_group(deadline, existing, &group, description_update, &mut result)
            .await?;
        // Naming the removed members (DescribeUser) uses another API than the writes, so
        // the two run side by side.
        let (removed, (added, applied)) = futures_util::join!(
            self.removed(deadline, named_removals, &current, &to_remove),
            self.apply(deadline, &group_id, &to_add, &to_remove),
        );
        // Adds that landed are checked against the marks even when the sync failed: a
        // re-delivery might not come before the leaver uses the membership.
        if fenced && !added.is_empty() {
            let taken_back = self.take_back_marked(deadline, fence, &added, &mut result).await;
            match (&applied, &removed, taken_back) {
                (Ok(()), Ok(_), taken_back) => taken_back?,
                (_, _, Err(error)) => tracing::warn!(%error, "the sync failed, and so did taking back adds of leavers"),
                _ => {}
            }
        }
        applied?;
        result.removed = removed?;

        let wrote = wrote_description || !to_add.is_empty() || !to_remove.is_empty();
        if result.status != SyncStatus::Created && wrote {
            result.status = SyncStatus::Updated;
        }
        tracing::info!(
            group_id,
            status = ?result.status,
            added = result.added.len(),
            removed = result.removed.len(),
            unresolved = result.unresolved.len(),
            leavers = result.leavers.len(),
            listed_users = directory.by_id.is_some(),
            "roster synced"
        );
        Ok(result)
    }

    /// A remove of a group that does not exist: `notFound`, and still a decision for
    /// the ledger, so that an older onboarding listing the group does not add these
    /// people when it arrives after this remove.
    fn remove_from_missing_group(&self, names: &[String], mut result: SyncResult) -> SyncResult {
        if self.claimed.is_some() {
            result.decisions = names.iter().map(|name| (name.clone(), false)).collect();
        }
        result.status = SyncStatus::NotFound;
        result
    }

    /// The group's id, creating it (with the description) when missing, and writing a
    /// description that differs.
    async fn ensure_group(
        &self,
        deadline: Deadline,
        existing: Option<String>,
        group: &GroupSpec,
        description_update: Option<String>,
        result: &mut SyncResult,
    ) -> Result<String, Error> {
        let group_id = if let Some(id) = existing {
            id
        } else {
            let ensured = self
                .store
                .create_group(deadline, &group.display_name, group.description.as_deref())
                .await?;
            if matches!(ensured, Ensured::Created(_)) {
                result.status = SyncStatus::Created;
            }
            ensured.id().to_owned()
        };
        result.group_id = Some(group_id.clone());
        if let Some(description) = description_update {
            self.store.update_description(deadline, &group_id, &description).await?;
        }
        Ok(group_id)
    }

    /// userNames of the members a plan removes, sorted: the ones already `known`, or
    /// [`Self::removal_names`].
    async fn removed(
        &self,
        deadline: Deadline,
        known: Option<Vec<String>>,
        current: &[Membership],
        to_remove: &[(&str, Option<String>)],
    ) -> Result<Vec<String>, Error> {
        let names = match known {
            Some(names) => names,
            None => self.removal_names(deadline, current, to_remove).await?,
        };
        Ok(sorted(names))
    }

    /// userNames of the members a plan removes, in plan order. Those not listed in the
    /// request are named by DescribeUser, unless the store was listed.
    async fn removal_names(
        &self,
        deadline: Deadline,
        current: &[Membership],
        to_remove: &[(&str, Option<String>)],
    ) -> Result<Vec<String>, Error> {
        let user_of = users_of(current);
        let user_of = &user_of;
        stream::iter(to_remove)
            .map(|(membership, name)| async move {
                if let Some(name) = name {
                    return Ok(name.clone());
                }
                let user_id = user_of.get(membership).copied().unwrap_or_default();
                let described = self.store.describe_user(deadline, user_id, false).await?;
                Ok::<_, Error>(
                    described
                        .map(|u| u.user.user_name)
                        .filter(|name| !name.is_empty())
                        .unwrap_or_else(|| user_id.to_owned()),
                )
            })
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await
    }

    /// Settles the plan before any write. Names the members it would remove when that
    /// decides anything (returned, in plan order), and keeps those that are listed in
    /// another case (see [`keep_case_variants`]). With the ledger: leaves every membership that an event newer than this roster
    /// decided as that event left it. A listed member is not added when a newer event
    /// decided they are not a member (a later leave, a later roster event removing
    /// them), and a member is not removed when a newer event decided they are (a later
    /// onboard-user listing the group, a later add); those are `superseded`. A listed
    /// person no user has yet gets the decision on their head, for their hire to apply.
    /// The roster's own decisions go to the ledger with the result. Returns the names
    /// of the removals kept, which deciding needed first.
    async fn keep_newer_decisions(
        &self,
        deadline: Deadline,
        (group_id, mode): (Option<&str>, SyncMode),
        (names, directory, marked): (&[String], &Directory, &HashSet<String>),
        current: &[Membership],
        plan: &mut Diff<'_>,
        result: &mut SyncResult,
    ) -> Result<Option<Vec<String>>, Error> {
        // Looked up one by one, a listed name the service does not find in that case may
        // still be a member's in another: such a member stays, as a listing (compared
        // without regard to case) would have kept it.
        let case_check = mode == SyncMode::Replace
            && directory.by_id.is_none()
            && !plan.unresolved.is_empty()
            && !plan.to_remove.is_empty();
        if self.claimed.is_none() && !case_check {
            return Ok(None);
        }
        let mut removal_names = self.removal_names(deadline, current, &plan.to_remove).await?;
        if case_check {
            keep_case_variants(plan, &mut removal_names, current, marked);
        }
        let Some(claimed) = &self.claimed else {
            return Ok(Some(removal_names));
        };
        let Diff {
            to_add,
            to_remove,
            unresolved,
            leavers,
            ..
        } = plan;
        let considered: Vec<&str> = to_add
            .iter()
            .map(|(name, _)| name.as_str())
            .chain(removal_names.iter().map(String::as_str))
            .chain(unresolved.iter().map(String::as_str))
            .chain(leavers.iter().map(String::as_str))
            .collect();
        let mine = if considered.is_empty() {
            HashMap::new()
        } else {
            self.ledger
                .member_decisions(&claimed.order, group_id, &considered)
                .await?
        };
        let newer = |name: &str| newest(claimed.member_decision(name), mine.get(name).cloned());
        let mut superseded = HashSet::new();
        to_add.retain(|(name, _)| {
            let keep = newer(name).is_none_or(|d| d.member);
            if !keep {
                superseded.insert(name.clone());
            }
            keep
        });
        let user_of = users_of(current);
        let mut kept_names = Vec::new();
        for (removal, name) in std::mem::take(to_remove).into_iter().zip(removal_names) {
            // A marked leaver's membership goes whatever the order: that is the fence.
            let leaver = user_of.get(removal.0).is_some_and(|id| marked.contains(*id));
            if leaver || newer(&name).is_none_or(|d| !d.member) {
                to_remove.push(removal);
                kept_names.push(name);
            } else {
                superseded.insert(name);
            }
        }
        let member = mode != SyncMode::Remove;
        // A listed marked leaver stays out (the fence); if the roster is newer than the
        // leave, the person's re-hire, delivered late, applies the decision.
        let fenced = leavers.iter().filter(|_| member);
        result.deferred = unresolved
            .iter()
            .chain(fenced)
            .filter(|name| newer(name).is_none())
            .map(|name| (name.clone(), member))
            .collect();
        result.decisions = names
            .iter()
            .filter(|name| directory.id_of(name).is_some_and(|id| !marked.contains(id)) && !superseded.contains(*name))
            .map(|name| (name.clone(), member))
            .chain(result.deferred.iter().cloned())
            .collect();
        result.superseded = superseded.into_iter().collect();
        result.superseded.sort();
        Ok(Some(kept_names))
    }

    /// Adds and removes go to different APIs with separate quotas, so each has its own
    /// stream: a removal never waits for a slot behind adds paced at their API's rate.
    /// Returns the memberships that were added, as `(userName, user id, membership id)`,
    /// also when a write failed, and whether every write succeeded.
    async fn apply<'a>(
        &self,
        deadline: Deadline,
        group_id: &str,
        to_add: &'a [(String, String)],
        to_remove: &[(&str, Option<String>)],
    ) -> (Vec<(&'a str, &'a str, String)>, Result<(), Error>) {
        let landed = std::sync::Mutex::new(Vec::new());
        let adds = stream::iter(to_add)
            .map(|(name, user_id)| {
                let landed = &landed;
                async move {
                    let membership = self.store.create_membership(deadline, group_id, user_id).await?;
                    let added = (name.as_str(), user_id.as_str(), membership.id().to_owned());
                    landed
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(added);
                    Ok::<_, Error>(())
                }
            })
            .buffer_unordered(self.config.write_concurrency)
            .try_collect::<()>();
        let removes = stream::iter(to_remove)
            .map(|(membership, _)| self.store.delete_membership(deadline, membership))
            .buffer_unordered(self.config.write_concurrency)
            .try_collect::<()>();
        let applied = futures_util::try_join!(adds, removes).map(drop);
        (
            landed.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner),
            applied,
        )
    }

    /// The fence's second read: users a revoke marked while this sync was adding them
    /// lose the membership again and move from `added` to `leavers`. The group may have
    /// been created by that revoke, so it is looked up again when the first read found
    /// none.
    async fn take_back_marked(
        &self,
        deadline: Deadline,
        fence: Option<String>,
        memberships: &[(&str, &str, String)],
        result: &mut SyncResult,
    ) -> Result<(), Error> {
        self.fence.catch_up(deadline).await;
        let fence = match fence {
            Some(id) => Some(id),
            None => self.fence.group_id(deadline, false).await?,
        };
        let marked = self.fence.marked(deadline, fence.as_deref()).await?;
        let taken: Vec<&(&str, &str, String)> = memberships
            .iter()
            .filter(|(_, user_id, _)| marked.contains(*user_id))
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        stream::iter(&taken)
            .map(|(_, _, membership)| self.store.delete_membership(deadline, membership))
            .buffer_unordered(self.config.write_concurrency)
            .try_collect::<()>()
            .await?;
        tracing::warn!(
            taken_back = taken.len(),
            "users marked as leavers during the sync lost their new membership"
        );
        let names: HashSet<&str> = taken.iter().map(|(name, _, _)| *name).collect();
        result.added.retain(|name| !names.contains(name.as_str()));
        // As for a leaver the survey found marked, the roster's decision is to wait on
        // the person's head for a re-hire older than this roster, delivered late. The
        // mark came after the survey from an event of theirs that claimed their head:
        // its claim is in force, or its finish is newer than this roster's claim, so
        // the deferral fails and the roster retries, finding the mark (a mark made by
        // hand, outside any event, leaves the decision waiting at once).
        if self.claimed.is_some() {
            result
                .deferred
                .extend(names.iter().map(|name| ((*name).to_owned(), true)));
        }
        result.leavers.extend(names.into_iter().map(str::to_owned));
        result.leavers.sort();
        Ok(())
    }

    /// What the plan needs: the description to write, the group's members and the
    /// roster's user ids. They come from different APIs, so they are fetched side by
    /// side whenever the resolution can be chosen before the members are counted.
    async fn survey(
        &self,
        deadline: Deadline,
        group_id: Option<&str>,
        description: Option<&str>,
        mode: SyncMode,
        names: &[String],
    ) -> Result<(Option<String>, Vec<Membership>, Directory), Error> {
        let estimate = match self.store_size.0.load(Ordering::Relaxed) {
            0 => self.config.expected_store_users,
            seen => seen,
        };
        let Some(id) = group_id else {
            let strategy = choose_resolution(mode, names.len(), 0, estimate);
            return Ok((None, Vec::new(), self.resolve(deadline, strategy, names).await?));
        };
        let group_state = async {
            futures_util::try_join!(
                self.description_update(deadline, id, description),
                self.store.memberships_of_group(deadline, id),
            )
        };
        if let Some(strategy) = choose_resolution_early(mode, names.len(), estimate) {
            let ((description, current), directory) =
                futures_util::try_join!(group_state, self.resolve(deadline, strategy, names))?;
            return Ok((description, current, directory));
        }
        let (description, current) = group_state.await?;
        let strategy = choose_resolution(mode, names.len(), current.len(), estimate);
        Ok((description, current, self.resolve(deadline, strategy, names).await?))
    }

    /// The description to write, when the request gives one that differs.
    async fn description_update(
        &self,
        deadline: Deadline,
        group_id: &str,
        wanted: Option<&str>,
    ) -> Result<Option<String>, Error> {
        let Some(wanted) = wanted else { return Ok(None) };
        let stored = self
            .store
            .group_description(deadline, group_id)
            .await?
            .ok_or_else(|| Error::vanished("DescribeGroup", "the group was deleted during the request"))?;
        Ok((stored.as_deref() != Some(wanted)).then(|| wanted.to_owned()))
    }

    async fn resolve(&self, deadline: Deadline, strategy: Resolution, names: &[String]) -> Result<Directory, Error> {
        match strategy {
            Resolution::Lookup => {
                let ids: Vec<Option<String>> = stream::iter(names)
                    .map(|name| self.store.user_id(deadline, name))
                    .buffered(self.config.write_concurrency)
                    .try_collect()
                    .await?;
                let by_name = names
                    .iter()
                    .cloned()
                    .zip(ids)
                    .filter_map(|(n, id)| Some((n, id?)))
                    .collect();
                Ok(Directory {
                    by_name,
                    folded: HashMap::new(),
                    by_id: None,
                })
            }
            Resolution::ListUsers => {
                let users = self.store.list_users(deadline).await?;
                self.store_size.0.store(users.len(), Ordering::Relaxed);
                let by_id = users.iter().cloned().collect();
                let mut folded: HashMap<String, Option<String>> = HashMap::new();
                for (id, name) in &users {
                    folded
                        .entry(name.to_lowercase())
                        .and_modify(|shared| *shared = None)
                        .or_insert_with(|| Some(id.clone()));
                }
                let by_name = users.into_iter().map(|(id, name)| (name, id)).collect();
                Ok(Directory {
                    by_name,
                    folded,
                    by_id: Some(by_id),
                })
            }
        }
    }
}

/// What a roster sync must change: memberships to create as `(userName, user id)`,
/// memberships to delete as `(membership id, userName if known)`, listed names no
/// user has, and listed names of marked leavers.
struct Diff<'a> {
    to_add: Vec<(String, String)>,
    to_remove: Vec<(&'a str, Option<String>)>,
    unresolved: Vec<String>,
    leavers: Vec<String>,
    /// How many of `to_remove` are marked leavers.
    leaver_removals: usize,
}

/// Drops from `plan` the removals of unmarked members whose userName is a listed,
/// unresolved name in another case, and those names from `unresolved` (kept members).
fn keep_case_variants(
    plan: &mut Diff<'_>,
    removal_names: &mut Vec<String>,
    current: &[Membership],
    marked: &HashSet<String>,
) {
    let listed: HashSet<String> = plan.unresolved.iter().map(|n| n.to_lowercase()).collect();
    let user_of = users_of(current);
    let mut kept = HashSet::new();
    let mut names = std::mem::take(removal_names).into_iter();
    plan.to_remove.retain(|(membership, _)| {
        let name = names.next().unwrap_or_default();
        let folded = name.to_lowercase();
        let leaver = user_of.get(membership).is_some_and(|id| marked.contains(*id));
        if !leaver && listed.contains(&folded) {
            kept.insert(folded);
            false
        } else {
            removal_names.push(name);
            true
        }
    });
    plan.unresolved.retain(|n| !kept.contains(&n.to_lowercase()));
}

/// Membership id → user id, for the plan's removals.
fn users_of(current: &[Membership]) -> HashMap<&str, &str> {
    current
        .iter()
        .map(|m| (m.membership_id.as_str(), m.user_id.as_str()))
        .collect()
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// The plan. `marked` holds the users the leavers fence keeps out: in a replace or an
/// add they are never added, and removed if they are members.
fn diff<'a>(
    mode: SyncMode,
    names: &[String],
    directory: &Directory,
    current: &'a [Membership],
    marked: &HashSet<String>,
) -> Diff<'a> {
    let current_ids: HashMap<&str, &str> = current
        .iter()
        .map(|m| (m.user_id.as_str(), m.membership_id.as_str()))
        .collect();
    let mut out = Diff {
        to_add: Vec::new(),
        to_remove: Vec::new(),
        unresolved: Vec::new(),
        leavers: Vec::new(),
        leaver_removals: 0,
    };
    let mut listed_ids = HashSet::new();
    for name in names {
        let Some(user_id) = directory.id_of(name) else {
            out.unresolved.push(name.clone());
            continue;
        };
        listed_ids.insert(user_id);
        if marked.contains(user_id) {
            out.leavers.push(name.clone());
            if let Some(membership) = current_ids.get(user_id) {
                out.to_remove.push((membership, Some(name.clone())));
                out.leaver_removals += 1;
            }
            continue;
        }
        match (mode, current_ids.get(user_id)) {
            (SyncMode::Replace | SyncMode::Add, None) => out.to_add.push((name.clone(), user_id.to_owned())),
            (SyncMode::Remove, Some(membership)) => out.to_remove.push((membership, Some(name.clone()))),
            _ => {}
        }
    }
    // Only a replace removes members it was not told about (and any mode but remove,
    // marked leavers); an unresolved name never causes a removal because it never
    // matches a current member.
    for m in current {
        let unlisted = !listed_ids.contains(m.user_id.as_str());
        let leaver = marked.contains(&m.user_id);
        if unlisted && (mode == SyncMode::Replace || leaver) {
            out.to_remove
                .push((&m.membership_id, directory.name_of(&m.user_id).map(str::to_owned)));
            out.leaver_removals += usize::from(leaver);
        }
    }
    out
}

/// userName ↔ user id, as far as the chosen resolution learned it.
struct Directory {
    by_name: HashMap<String, String>,
    /// A listing's userNames lowercased, for the names that no other user's lowercase
    /// form shares: the function's own comparison ignores case (the contract).
    folded: HashMap<String, Option<String>>,
    by_id: Option<HashMap<String, String>>,
}

impl Directory {
    fn id_of(&self, name: &str) -> Option<&str> {
        self.by_name
            .get(name)
            .or_else(|| self.folded.get(&name.to_lowercase())?.as_ref())
            .map(String::as_str)
    }

    fn name_of(&self, id: &str) -> Option<&str> {
        self.by_id.as_ref()?.get(id).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::{Resolution, choose_resolution, choose_resolution_early};
    use crate::SyncMode;

    #[test]
    fn resolution_picks_whichever_costs_fewer_calls() {
        // 3 names, a 2-member group, ~1000 users: 3 lookups beat 10 pages.
        assert_eq!(choose_resolution(SyncMode::Replace, 3, 2, 1000), Resolution::Lookup);
        // 5,000 names against a 6,000-user store: 60 pages beat 5,000 lookups.
        assert_eq!(
            choose_resolution(SyncMode::Replace, 5000, 0, 6000),
            Resolution::ListUsers
        );
        // An empty roster for a 500-member group must name 500 removals: 5 pages win.
        assert_eq!(choose_resolution(SyncMode::Replace, 0, 500, 400), Resolution::ListUsers);
        // add never names removals.
        assert_eq!(choose_resolution(SyncMode::Add, 0, 500, 400), Resolution::Lookup);
        // A store of at most 100 users is one page, cheaper than two lookups.
        assert_eq!(choose_resolution(SyncMode::Replace, 2, 0, 50), Resolution::ListUsers);
    }

    #[test]
    fn resolution_is_chosen_before_counting_members_only_when_the_count_cannot_matter() {
        // 5,000 names, 6,000 users: listing wins whatever the removals.
        assert_eq!(
            choose_resolution_early(SyncMode::Replace, 5000, 6000),
            Some(Resolution::ListUsers)
        );
        // 3 names: lookups win unless the group holds many members to remove.
        assert_eq!(choose_resolution_early(SyncMode::Replace, 3, 1000), None);
        // add and remove never name removals by lookup.
        assert_eq!(
            choose_resolution_early(SyncMode::Add, 3, 1000),
            Some(Resolution::Lookup)
        );
        assert_eq!(
            choose_resolution_early(SyncMode::Remove, 500, 1000),
            Some(Resolution::ListUsers)
        );
    }
}
