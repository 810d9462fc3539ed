//! The event ledger: no late, duplicated or redriven event undoes a newer one.
//!
//! Each request names a subject: a user (onboard-user, offboard-user) or a group
//! (sync-group), keyed by a SHA-256 of the lowercased name so that the table holds no
//! personal name. Before any Identity Store write, the request claims its subject with
//! one conditional write: the claim succeeds only when the subject's newest event is
//! older than this one (or is this one, unfinished) and no other event holds it. After
//! the job, one transaction ends the claim and records the event in the subject's
//! audit trail. So two concurrent invocations can never both believe they are newest:
//! the second one's claim fails, and it is `stale` (older), `duplicate` (its id was
//! recorded) or retried later (`ConcurrentModification`, the other still holds it).
//!
//! An event's place in time is its order key: the instant (`occurredAt` or the
//! envelope's `time`, to the nanosecond), then its id, then its step (a revoke before
//! the delete of the same leaver event), compared as strings.

use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::dynamodb::{CONSIDERED, Checked, Claim, Field, Finish, Head, HeadChange, LedgerTable, Record, Refuse};
use crate::{Deadline, Error, EventMeta, Function};

/// How long a claim lasts when the invocation has no deadline (a local tool).
const UNBOUNDED_CLAIM: Duration = Duration::from_secs(15 * 60);
/// Kept beyond the invocation's deadline (less its margin), which Lambda enforces by
/// stopping the process, so that a claim never ends while its writes may still run.
const CLAIM_SLACK: Duration = Duration::from_secs(5);

/// A ledger subject: a user or a group, as the table's partition key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Subject(String);

impl Subject {
    /// A user, by userName (without regard to case).
    pub(crate) fn user(user_name: &str) -> Self {
        Self(format!("user#{}", digest(user_name)))
    }

    /// A group, by displayName (without regard to case).
    pub(crate) fn group(display_name: &str) -> Self {
        Self(format!("group#{}", digest(display_name)))
    }

    pub(crate) fn key(&self) -> &str {
        &self.0
    }

    fn is_group(&self) -> bool {
        self.0.starts_with("group#")
    }
}

/// How a head's maps name a group (in a user's `joins`) or a member (in a group's
/// `members`): the first 128 bits of the name's digest, which keeps a roster's head
/// small and holds no name.
fn map_key(name: &str) -> String {
    digest(name)[..32].to_owned()
}

/// [`map_key`] of a subject: the start of its digest.
fn map_key_of(subject: &Subject) -> &str {
    let digest = subject.0.split_once('#').map_or("", |(_, d)| d);
    &digest[..digest.len().min(32)]
}

/// A decision about one membership (a group and a user): whether the user is to be a
/// member, and the order key of the event that decided it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Decision {
    order: String,
    pub(crate) member: bool,
}

impl Decision {
    /// The order key of the event that decided it.
    pub(crate) fn order(&self) -> &str {
        &self.order
    }
}

/// The newer of two decisions (a tie goes to membership: the onboard-user that made a
/// person active also decided the groups it listed).
pub(crate) fn newest(a: Option<Decision>, b: Option<Decision>) -> Option<Decision> {
    a.into_iter().chain(b).max()
}

/// A claim as its job sees it: the event's order key and the subject's head as the
/// claim found it.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub(crate) order: String,
    head: Head,
    checked: bool,
}

impl Claimed {
    /// An onboarding's claim that checked its groups' heads (see
    /// [`LedgerTable::claim_checked`]): no roster decided about the person in any of
    /// them after this event, and the person's own facts are all older than it.
    pub(crate) fn groups_checked(&self) -> bool {
        self.checked
    }

    /// A group's claim: the newest roster decision about `user_name` in this group that
    /// is newer than this event (a newer add or remove naming the member, or a newer
    /// replace, which decided every member).
    pub(crate) fn member_decision(&self, user_name: &str) -> Option<Decision> {
        group_decision(&self.head, &self.order, user_name)
    }

    fn newer(&self, decided: Option<&String>) -> bool {
        decided.is_some_and(|d| d.as_str() > self.order.as_str())
    }

    /// Whether `fact`'s newest decision is newer than this event and says `value`.
    fn decided_later(&self, fact: Option<&(String, bool)>, value: bool) -> bool {
        fact.is_some_and(|(o, v)| *v == value && self.newer(Some(o)))
    }

    /// Whether the person's head alone leaves this event nothing to apply, by the
    /// jobs' own first rules (`Onboarding::ordered`, `Offboarding::run`): what the claim
    /// refuses ([`Refuse`], whose condition says the same to DynamoDB).
    fn stale_from_head(&self, refuse: Refuse<'_>) -> bool {
        let own_leave = |sibling: &str| {
            self.head
                .left
                .as_deref()
                .is_some_and(|left| left == self.order || left == sibling)
        };
        self.deleted_later()
            || match refuse {
                Refuse::Replaced => false,
                Refuse::Onboarding { groups } => {
                    self.attributes_newer()
                        && (self.left_later() || (!groups && self.head.left.is_none() && self.head.deferrals == 0))
                }
                Refuse::Leave { revoke: true, sibling } => {
                    self.left_later() || (self.overtaken() && own_leave(sibling))
                }
                Refuse::Leave { revoke: false, sibling } => self.exists_later() && own_leave(sibling),
            }
    }

    /// [`Self::stale_from_head`] of a head that refused `order`'s claim.
    fn refused_as_stale(order: &str, head: &Head, refuse: Refuse<'_>) -> bool {
        let claimed = Self {
            order: order.to_owned(),
            head: head.clone(),
            checked: false,
        };
        claimed.stale_from_head(refuse)
    }

    /// A user's claim: a newer delete decided the person is gone.
    pub(crate) fn deleted_later(&self) -> bool {
        self.decided_later(self.head.exists.as_ref(), false)
    }

    /// A user's claim: a newer onboard-user decided the person exists (a re-hire).
    pub(crate) fn exists_later(&self) -> bool {
        self.decided_later(self.head.exists.as_ref(), true)
    }

    /// A user's claim: a newer onboard-user's attributes were applied.
    pub(crate) fn attributes_newer(&self) -> bool {
        self.newer(self.head.attrs.as_ref())
    }

    /// A user's claim: a newer revoke marked the person, and no newer onboard-user took
    /// the mark off since.
    pub(crate) fn marked_later(&self) -> bool {
        self.decided_later(self.head.mark.as_ref(), true)
    }

    /// A user's claim: a newer leave (revoke or delete) took every membership away.
    pub(crate) fn left_later(&self) -> bool {
        self.newer(self.head.left.as_ref())
    }

    /// A user's claim: a leave newer than `order` took every membership away.
    pub(crate) fn left_after(&self, order: &str) -> bool {
        self.head.left.as_deref().is_some_and(|l| l > order)
    }

    /// A user's claim: the newest leave was an earlier step of this same event (the
    /// revoke before a leaver's delete), so no decision can lie between the two.
    pub(crate) fn left_by_this_event(&self) -> bool {
        let event = |order: &str| order.rsplit_once('#').map(|(event, _)| event.to_owned());
        self.head
            .left
            .as_deref()
            .is_some_and(|left| event(left) == event(&self.order))
    }

    /// A user's claim: a newer event of the person finished.
    pub(crate) fn overtaken(&self) -> bool {
        self.newer(self.head.order.as_ref())
    }

    /// A user's claim: a newer onboard-user listed the group (by id).
    pub(crate) fn joined_later(&self, group_id: &str) -> bool {
        self.newer(self.head.joins.get(group_id))
    }

    /// A user's claim: memberships a leave took, `(group id, the leave's order key)`.
    pub(crate) fn taken_by_leave(&self) -> &[(String, String)] {
        &self.head.restore
    }

    /// A user's claim: rosters' decisions that the person is a member, taken while no
    /// user had the userName: `(group subject key, group id, order key)`.
    pub(crate) fn deferred_joins(&self) -> Vec<(Subject, String, String)> {
        self.head
            .deferred
            .iter()
            .filter(|d| d.member)
            .map(|d| (Subject(d.group.clone()), d.group_id.clone(), d.order.clone()))
            .collect()
    }
}

fn group_decision(head: &Head, order: &str, user_name: &str) -> Option<Decision> {
    match head.members.get(&map_key(user_name)) {
        Some((decided, member)) => (decided.as_str() > order).then(|| Decision {
            order: decided.clone(),
            member: *member,
        }),
        None => head.replaced.as_deref().filter(|r| *r > order).map(|r| Decision {
            order: r.to_owned(),
            member: false,
        }),
    }
}

/// The newest of a person's own events newer than `order` that decided their
/// membership of the group `group_id`: a leave (out of every group) or an
/// onboard-user that listed the group (a member).
fn user_decision(head: &Head, order: &str, group_id: Option<&str>) -> Option<Decision> {
    let newer = |decided: Option<&String>, member| {
        decided.filter(|d| d.as_str() > order).map(|d| Decision {
            order: d.clone(),
            member,
        })
    };
    [
        newer(head.left.as_ref(), false),
        newer(group_id.and_then(|g| head.joins.get(g)), true),
    ]
    .into_iter()
    .flatten()
    .max()
}

/// Lowercase hexadecimal SHA-256 of the lowercased name: what operators compute to
/// read a subject's history (README, "Reading the audit trail").
pub(crate) fn digest(name: &str) -> String {
    Sha256::digest(name.to_lowercase().as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _infallible = write!(hex, "{b:02x}");
            hex
        })
}

/// What a request is to the ledger: its subject, and which step of which function.
/// `rank` orders the steps of one event (a revoke, 1, before its delete, 2).
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) subject: Subject,
    pub(crate) function: Function,
    pub(crate) name: &'static str,
    pub(crate) rank: u8,
    /// onboard-user: the groups it lists, checked at the claim when it can be.
    pub(crate) groups: Vec<Subject>,
}

/// Why the head alone turned a person's event away.
const NEWER: &str = "newer events decided everything it would apply";

/// Another event holds the subject at this moment (it may have let go since): retry.
fn held_by_another() -> Error {
    Error::ConcurrentModification {
        operation: "ledger",
        detail: "another event of the same subject is being applied; retry later".into(),
    }
}

/// The subject keys of the groups an onboarding lists, each once, in order.
fn listed(groups: Vec<Subject>) -> Vec<String> {
    let mut groups: Vec<String> = groups.into_iter().map(|g| g.0).collect();
    groups.sort();
    groups.dedup();
    groups
}

/// What, besides another event's claim, makes a subject's head refuse a step's claim.
fn refusal<'a>(of_group: bool, step: &str, groups: bool, sibling: &'a str) -> Refuse<'a> {
    match (of_group, step) {
        (true, _) => Refuse::Replaced,
        (false, "revoke" | "delete") => Refuse::Leave {
            revoke: step == "revoke",
            sibling,
        },
        (false, _) => Refuse::Onboarding { groups },
    }
}

/// A transaction holds at most 100 items: the person's head, the record's check and 98
/// groups'.
const CHECKED_GROUPS: usize = 98;

/// What the ledger says about a request.
#[derive(Debug)]
enum Verdict {
    /// Apply it; `Some` holds the claim to finish or release, `None` when the request
    /// is applied unordered (no ledger, or no time).
    Apply(Option<Box<Ticket>>),
    /// A newer event of the subject was applied (or is being applied): nothing of this
    /// one is left to apply.
    Stale,
    /// This function (and mode) already applied this event id.
    Duplicate,
}

/// A claim held on a subject.
#[derive(Debug)]
struct Ticket {
    subject: Subject,
    head: Head,
    order: String,
    record_key: String,
    at: String,
    event_id: Option<String>,
    function: Function,
    step: &'static str,
    /// Claimed with [`LedgerTable::claim_checked`]; the head was not read.
    checked: bool,
    /// When the claim was made (Unix milliseconds): before anything the job read.
    claimed_ms: i64,
}

/// What an applied event did, for the audit trail: ids and counts, never a name.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) status: &'static str,
    pub(crate) user_id: Option<String>,
    pub(crate) group_ids: Vec<String>,
    pub(crate) added: usize,
    pub(crate) removed: usize,
    /// What the event left a user as: `active`, `revoked`, `deleted`.
    pub(crate) state: Option<&'static str>,
    /// onboard-user: the groups (ids) it decided the person belongs to.
    pub(crate) joined: Vec<String>,
    /// onboard-user: its attributes were applied (no newer onboard-user's were).
    pub(crate) attributes: bool,
    /// sync-group: the members (userNames) it decided, and whether each is a member.
    pub(crate) decisions: Vec<(String, bool)>,
    /// sync-group: its decisions about listed people no user had yet, `(userName,
    /// member or not)`, for their hire to apply.
    pub(crate) deferred: Vec<(String, bool)>,
    /// sync-group: the event was a `replace`, which decided every member.
    pub(crate) replace: bool,
    /// A `stale` event that still decided a fact, so it is recorded, not released.
    pub(crate) decided_when_stale: bool,
    /// onboard-user: `(group subject, order)` of each membership it wrote, with the
    /// order of the decision it applied: the finish checks that no roster of the group
    /// decided about the person after that, or holds the group, meanwhile (a `replace`
    /// that listed the members before the write neither saw it nor read the person's
    /// head). A leave older than a re-hire: the same for each membership it removed.
    /// At most [`CHECKED_GROUPS`].
    pub(crate) checks: Vec<(String, String)>,
}

/// The ledger as the jobs see it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ledger<'a> {
    table: Option<&'a LedgerTable>,
    retention_days: u32,
}

fn now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<'a> Ledger<'a> {
    pub(crate) const fn new(table: Option<&'a LedgerTable>, retention_days: u32) -> Self {
        Self { table, retention_days }
    }

    /// Runs a job under the ledger: claims the step's subject, then runs `job` (given
    /// the claim's order key, `None` when applied unordered) and finishes the claim with
    /// its `outcome`; or answers `turned_away(duplicate)` without running it. When the
    /// finish finds a group of the outcome's `checks` contested, `undo` takes back the
    /// writes of those checks (indices) and the request fails, to be retried.
    #[allow(clippy::too_many_arguments)] // each closure is one stage of the same run
    pub(crate) async fn run<R, Fut, Undone>(
        &self,
        step: Step,
        event: &EventMeta,
        deadline: Deadline,
        turned_away: impl FnOnce(bool) -> R,
        job: impl FnOnce(Option<Claimed>) -> Fut,
        outcome: impl FnOnce(&R) -> Outcome,
        undo: impl FnOnce(R, Vec<usize>) -> Undone,
    ) -> Result<R, Error>
    where
        Fut: Future<Output = Result<R, Error>>,
        Undone: Future<Output = ()>,
    {
        let ticket = match self.begin(step, event, deadline).await? {
            Verdict::Stale => return Ok(turned_away(false)),
            Verdict::Duplicate => return Ok(turned_away(true)),
            Verdict::Apply(ticket) => ticket,
        };
        // Boxed: the job's future is deep, and the runtime nests it further.
        let claimed = ticket.as_ref().map(|t| Claimed {
            order: t.order.clone(),
            head: t.head.clone(),
            checked: t.checked,
        });
        let result = Box::pin(job(claimed)).await;
        self.settle(ticket, result, outcome, undo).await
    }

    /// Claims the step's subject for the request, or says why not.
    async fn begin(&self, step: Step, event: &EventMeta, deadline: Deadline) -> Result<Verdict, Error> {
        let Step {
            subject,
            function,
            name: step,
            rank,
            groups,
        } = step;
        let (Some(table), Some(at)) = (self.table, event.occurred_at) else {
            return Ok(Verdict::Apply(None));
        };
        // Without an id, repeats cannot be told apart: each delivery is its own event.
        let id = event
            .event_id
            .clone()
            .unwrap_or_else(|| format!("~{:016x}", fastrand::u64(..)));
        let order = format!("{}#{id}#{rank}", at.sortable());
        let record_key = format!("event#{}#{step}#{id}", function.name());
        let now = now();
        let until = now + deadline.remaining().unwrap_or(UNBOUNDED_CLAIM) + CLAIM_SLACK;
        let of_group = subject.is_group();
        // The head's newest finished event is this very step of this event: a
        // redelivery (the finish that advanced the head wrote the record).
        let finished = |head: &Head| event.event_id.is_some() && head.order.as_deref() == Some(order.as_str());
        let duplicate = || {
            tracing::info!(function = function.name(), step, "event already applied: duplicate");
            Ok(Verdict::Duplicate)
        };
        // Only an event with an id can be a repeat; the head's record filter rules most out.
        let record = event.event_id.is_some().then_some(record_key.as_str());
        let maybe_recorded = |head: &Head| record.is_some() && head.may_have_recorded(&record_key, &order);
        let groups = listed(groups);
        // The same leaver event's other step: a leave is ranked 1 (revoke) or 2 (delete).
        let sibling = format!("{}#{id}#{}", at.sortable(), 3 - rank);
        let refuse = refusal(of_group, step, !groups.is_empty(), &sibling);
        // Newer events left it nothing to apply, whatever comes after (a fact only gets
        // newer deciders): no claim is needed. `duplicate` when its record exists (any
        // applied delivery finished, since a newer event did after it), else `stale`.
        let turned_away = async |why: &str, head: &Head| {
            if maybe_recorded(head) && table.recorded(subject.key(), &record_key).await? {
                return duplicate();
            }
            tracing::info!(function = function.name(), step, "{why}: stale");
            Ok(Verdict::Stale)
        };
        let stale_from_head = |head: &Head| Claimed::refused_as_stale(&order, head, refuse);
        let checked = if !of_group && (1..=CHECKED_GROUPS).contains(&groups.len()) {
            let member = map_key_of(&subject);
            table
                .claim_checked(
                    subject.key(),
                    &order,
                    millis(now),
                    millis(until),
                    member,
                    &groups,
                    record,
                )
                .await?
        } else {
            Checked::Unchecked(None)
        };
        let head = match checked {
            Checked::Claimed => None,
            Checked::Recorded => return duplicate(),
            // The check's refusal returned the head: a redelivery of the newest event is
            // answered without claiming, and so is an event the head shows stale.
            Checked::Unchecked(Some(head)) if finished(&head) => return duplicate(),
            Checked::Unchecked(Some(head)) if stale_from_head(&head) => return turned_away(NEWER, &head).await,
            Checked::Unchecked(_) => {
                match table
                    .claim(subject.key(), &order, millis(now), millis(until), refuse)
                    .await?
                {
                    // A claim admits an event older than the subject's newest one (it
                    // still decides what no newer event decided), so such an event may be
                    // a repeat: the audit trail tells, under the claim, and a repeat gives
                    // the claim back in the same call.
                    Claim::Claimed(head)
                        if head.order.as_deref().is_some_and(|o| o >= order.as_str()) && maybe_recorded(&head) =>
                    {
                        if table.release_if_recorded(subject.key(), &order, &record_key).await? {
                            return duplicate();
                        }
                        Some(head)
                    }
                    Claim::Claimed(head) => Some(head),
                    Claim::Refused(head) if finished(&head) => return duplicate(),
                    Claim::Refused(head) if stale_from_head(&head) => return turned_away(NEWER, &head).await,
                    // A group's newest replace decided every member.
                    Claim::Refused(head)
                        if of_group && head.replaced.as_deref().is_some_and(|o| o >= order.as_str()) =>
                    {
                        return turned_away("a newer replace decided every member", &head).await;
                    }
                    Claim::Refused(_) => return Err(held_by_another()),
                }
            }
        };
        Ok(Verdict::Apply(Some(Box::new(Ticket {
            checked: head.is_none(),
            head: head.unwrap_or_default(),
            subject,
            order,
            record_key,
            at: at.rfc3339(),
            event_id: event.event_id.clone(),
            function,
            step,
            claimed_ms: millis(now),
        }))))
    }

    /// Ends the claim and records what the event did.
    async fn finish(&self, ticket: &Ticket, outcome: &Outcome) -> Result<Finish, Error> {
        let Some(table) = self.table else {
            return Ok(Finish::Done);
        };
        let expires = now() + Duration::from_secs(u64::from(self.retention_days) * 86_400);
        let mut fields = vec![
            ("at", Field::Text(ticket.at.clone())),
            ("order", Field::Text(ticket.order.clone())),
            ("function", Field::Text(ticket.function.name().to_owned())),
            ("step", Field::Text(ticket.step.to_owned())),
            ("outcome", Field::Text(outcome.status.to_owned())),
            (
                "expiresAt",
                Field::Number(i64::try_from(expires.as_secs()).unwrap_or(i64::MAX)),
            ),
        ];
        if let Some(id) = &ticket.event_id {
            fields.push(("eventId", Field::Text(id.clone())));
        }
        if let Some(user_id) = &outcome.user_id {
            fields.push(("userId", Field::Text(user_id.clone())));
        }
        if !outcome.group_ids.is_empty() {
            fields.push(("groupIds", Field::List(outcome.group_ids.clone())));
        }
        if outcome.added + outcome.removed > 0 {
            fields.push(("added", Field::Number(i64::try_from(outcome.added).unwrap_or(i64::MAX))));
            fields.push((
                "removed",
                Field::Number(i64::try_from(outcome.removed).unwrap_or(i64::MAX)),
            ));
        }
        let record = Record {
            sort_key: ticket.record_key.clone(),
            fields,
        };
        // A roster's decisions about people no user had yet go onto their heads first:
        // the finish is what marks the event applied.
        if let (Some(group_id), false) = (outcome.group_ids.first(), outcome.deferred.is_empty()) {
            let entries: Vec<_> = outcome
                .deferred
                .iter()
                .map(|(name, member)| {
                    (
                        Subject::user(name).0,
                        format!("d_{}", map_key_of(&ticket.subject)),
                        Field::Map(vec![
                            ("s".into(), Field::Text(ticket.subject.0.clone())),
                            ("id".into(), Field::Text(group_id.clone())),
                            ("o".into(), Field::Text(ticket.order.clone())),
                            ("in".into(), Field::Bool(*member)),
                        ]),
                    )
                })
                .collect();
            table.defer(&entries, (ticket.claimed_ms, millis(now()))).await?;
        }
        let checks = &outcome.checks[..outcome.checks.len().min(CHECKED_GROUPS)];
        table
            .finish(
                ticket.subject.key(),
                &ticket.order,
                &head_change(ticket, outcome),
                &record,
                (map_key_of(&ticket.subject), checks, millis(now())),
            )
            .await
    }

    /// Finishes the claim after the job succeeded, or releases it after it failed.
    /// A ledger that cannot record a finished job fails the request (retryably): the
    /// claim goes back, and the retry re-applies, which the jobs' idempotency makes safe.
    async fn settle<R, Undone>(
        &self,
        ticket: Option<Box<Ticket>>,
        result: Result<R, Error>,
        outcome: impl FnOnce(&R) -> Outcome,
        undo: impl FnOnce(R, Vec<usize>) -> Undone,
    ) -> Result<R, Error>
    where
        Undone: Future<Output = ()>,
    {
        let Some(ticket) = ticket else { return result };
        let done = match result {
            Ok(done) => done,
            Err(error) => {
                self.release(&ticket).await;
                return Err(error);
            }
        };
        let outcome = outcome(&done);
        // A job that found nothing left to apply wrote nothing: the claim goes back, and
        // no record says it was applied (unless it decided a fact).
        if outcome.status == "stale" && !outcome.decided_when_stale {
            self.release(&ticket).await;
            return Ok(done);
        }
        let finished = self.finish(&ticket, &outcome).await;
        match finished {
            Ok(Finish::Done) => Ok(done),
            // A roster decided the group while the membership was being written: in time
            // order the newer decision wins, and this event no longer knows which that
            // is. Its own write goes (as if it had failed before it), and its retry
            // decides again from the group's head.
            Ok(Finish::Contested(checks)) => {
                tracing::info!(
                    groups = checks.len(),
                    "a roster decided a group while this event wrote a membership of it; those writes are undone"
                );
                undo(done, checks).await;
                self.release(&ticket).await;
                Err(Error::ConcurrentModification {
                    operation: "ledger",
                    detail: "a roster of a group whose membership this event wrote was applied meanwhile; retry later"
                        .into(),
                })
            }
            Err(error) => {
                self.release(&ticket).await;
                Err(error)
            }
        }
    }

    /// Gives the claim up after the job failed (best effort: an unreleased claim
    /// expires at the invocation's deadline).
    async fn release(&self, ticket: &Ticket) {
        let Some(table) = self.table else { return };
        if let Err(error) = table.release(ticket.subject.key(), &ticket.order).await {
            tracing::warn!(%error, "the ledger claim could not be released; it expires at the deadline");
        }
    }

    /// For a roster of `group` at `order`: each listed member's own newest event newer
    /// than the roster that decided their membership of the group (see
    /// [`user_decision`]). A member with an event being applied at this moment makes
    /// the roster retry later, so that the two do not interleave.
    pub(crate) async fn member_decisions(
        &self,
        order: &str,
        group_id: Option<&str>,
        names: &[&str],
    ) -> Result<HashMap<String, Decision>, Error> {
        let heads = self.heads(names.iter().map(|n| Subject::user(n))).await?;
        let mut out = HashMap::new();
        for (name, head) in names.iter().zip(heads) {
            if let Some(decision) = head.as_ref().and_then(|h| user_decision(h, order, group_id)) {
                out.insert((*name).to_owned(), decision);
            }
        }
        Ok(out)
    }

    /// For an onboard-user of `user_name` at `order`: for each group (subject), its
    /// newest roster decision about the person newer than `newer_than` (the event's
    /// order key, or a deferred decision's). A group with a roster event being applied
    /// at this moment makes the onboarding retry later.
    pub(crate) async fn group_decisions(
        &self,
        user_name: &str,
        groups: &[(Subject, String)],
    ) -> Result<Vec<Option<Decision>>, Error> {
        let heads = self.heads(groups.iter().map(|(g, _)| g.clone())).await?;
        Ok(groups
            .iter()
            .zip(heads)
            .map(|((_, newer_than), head)| head.and_then(|h| group_decision(&h, newer_than, user_name)))
            .collect())
    }

    /// The heads of `subjects`, in order (`None` for a subject without one), read in one
    /// BatchGetItem per 100. A head another event holds right now is
    /// `ConcurrentModification`.
    async fn heads(&self, subjects: impl Iterator<Item = Subject>) -> Result<Vec<Option<Head>>, Error> {
        let Some(table) = self.table else {
            return Ok(Vec::new());
        };
        let keys: Vec<String> = subjects.map(|s| s.0).collect();
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // BatchGetItem refuses a key asked twice (a group both listed and deferred).
        let mut unique = keys.clone();
        unique.sort();
        unique.dedup();
        let heads = table.heads(&unique).await?;
        let now = millis(now());
        if heads.values().any(|head| held(head, now)) {
            return Err(Error::ConcurrentModification {
                operation: "ledger",
                detail: "another event of a member or group this request decides is being applied; retry later".into(),
            });
        }
        Ok(keys.iter().map(|k| heads.get(k).cloned()).collect())
    }
}

/// What finishing `ticket` with `outcome` writes to the subject's head. The claim makes
/// the finish the head's only writer, so its maps are rebuilt from the claimed head.
fn head_change(ticket: &Ticket, outcome: &Outcome) -> HeadChange {
    let order = &ticket.order;
    let head = &ticket.head;
    // Every event that finished before this claim is not newer than the claimed head's
    // `order`. (A checked claim read no head; it began the filter itself.)
    let mut change = HeadChange {
        seen_after: head.order.clone().unwrap_or_default(),
        ..HeadChange::default()
    };
    if ticket.subject.is_group() {
        let newest = head.order.iter().chain([order]).max().cloned().unwrap_or_default();
        change.set.push(("order".to_owned(), Field::Text(newest)));
        let decided = outcome
            .decisions
            .iter()
            .map(|(name, member)| (map_key(name), (order.clone(), *member)));
        let members: HashMap<String, (String, bool)> = if outcome.replace {
            change.set.push(("replaced".to_owned(), Field::Text(order.clone())));
            // A replace decides every member: what it keeps are its own members and the
            // newer decisions it left alone; everyone else is out as of this replace.
            // A newer decision it left alone stands over its own.
            decided
                .filter(|(_, (_, member))| *member)
                .chain(
                    head.members
                        .iter()
                        .filter(|(_, (decided, _))| decided > order)
                        .map(|(k, v)| (k.clone(), v.clone())),
                )
                .collect()
        } else {
            let mut members = head.members.clone();
            for (key, decision) in decided {
                if members.get(&key).is_none_or(|(d, _)| d < order) {
                    members.insert(key, decision);
                }
            }
            members
        };
        change.set.push((
            "members".to_owned(),
            Field::Map(
                members
                    .into_iter()
                    .map(|(k, (o, member))| {
                        (
                            k,
                            Field::Map(vec![("o".into(), Field::Text(o)), ("in".into(), Field::Bool(member))]),
                        )
                    })
                    .collect(),
            ),
        ));
    } else {
        user_change(&mut change, head, order, outcome, ticket.checked);
    }
    change
}

/// A person's head after `outcome` at `order`: each fact (attributes, existence, mark,
/// leave, groups) is set only when this event is newer than the one that decided it.
///
/// A `checked` claim read no head (every fact is older than this event), so it sets the
/// groups it joined one by one rather than writing `joins` back whole.
fn user_change(change: &mut HeadChange, head: &Head, order: &String, outcome: &Outcome, checked: bool) {
    let older = |decided: Option<&String>| decided.is_none_or(|d| d < order);
    let decide = |name: &str, value| {
        (
            name.to_owned(),
            Field::Map(vec![
                ("o".into(), Field::Text(order.clone())),
                ("v".into(), Field::Bool(value)),
            ]),
        )
    };
    if older(head.order.as_ref()) {
        change.set.push(("order".to_owned(), Field::Text(order.clone())));
        if let Some(state) = outcome.state {
            change.set.push(("state".to_owned(), Field::Text(state.to_owned())));
        }
    }
    let left_older = older(head.left.as_ref());
    match outcome.state {
        Some("active") => {
            // The re-hire has decided what to restore of them.
            change
                .remove
                .extend(head.restore.iter().map(|(group, _)| format!("r_{group}")));
            if outcome.attributes && older(head.attrs.as_ref()) {
                change.set.push(("attrs".to_owned(), Field::Text(order.clone())));
            }
            if older(head.exists.as_ref().map(|(o, _)| o)) {
                change.set.push(decide("exists", true));
            }
            if older(head.mark.as_ref().map(|(o, _)| o)) {
                change.set.push(decide("mark", false));
            }
            if checked {
                change.set_in.extend(
                    outcome
                        .joined
                        .iter()
                        .map(|group| ("joins".to_owned(), group.clone(), Field::Text(order.clone()))),
                );
            } else if older(head.order.as_ref()) {
                // The newest event applied every deferred decision newer than it (an
                // older one may have had to leave them to a re-hire); one deferred
                // since it read the head is not counted, so the next onboarding reads
                // the head for it.
                change.set.push((CONSIDERED.to_owned(), Field::Number(head.deferrals)));
            }
            if left_older && !checked {
                let mut joins = head.joins.clone();
                for group in &outcome.joined {
                    if older(joins.get(group)) {
                        joins.insert(group.clone(), order.clone());
                    }
                }
                change.set.push((
                    "joins".to_owned(),
                    Field::Map(joins.into_iter().map(|(k, o)| (k, Field::Text(o))).collect()),
                ));
            }
        }
        Some(state) => {
            // The next onboarding may skip the head (a checked claim) only when nothing
            // on it waits for a re-hire: this leave is the newest event, every deferred
            // decision is one it voids, and no delete left memberships to restore. The
            // count is the one this claim read, so a decision deferred since breaks the
            // equality and the next onboarding reads the head for it.
            // Either leave keeps what it took (`r_<group id>`): a roster newer than a
            // re-hire that comes between may have decided the person is a member, and
            // was applied before this leave was delivered.
            let takes = !outcome.group_ids.is_empty();
            let nothing_waits = left_older
                && older(head.order.as_ref())
                && head.deferred.iter().all(|d| &d.order <= order)
                && head.restore.is_empty()
                && !takes;
            if nothing_waits {
                change.set.push((CONSIDERED.to_owned(), Field::Number(head.deferrals)));
            } else {
                change.remove.push(CONSIDERED.to_owned());
            }
            if left_older {
                change.set.push(("left".to_owned(), Field::Text(order.clone())));
                let joins = head.joins.iter().filter(|(_, o)| *o > order);
                change.set.push((
                    "joins".to_owned(),
                    Field::Map(joins.map(|(k, o)| (k.clone(), Field::Text(o.clone()))).collect()),
                ));
                change.remove.extend(
                    head.deferred
                        .iter()
                        .filter(|d| &d.order <= order)
                        .map(|d| d.attribute.clone()),
                );
            }
            if takes {
                change.set.extend(
                    outcome
                        .group_ids
                        .iter()
                        .map(|group| (format!("r_{group}"), Field::Text(order.clone()))),
                );
            }
            let (fact, current) = if state == "deleted" {
                ("exists", &head.exists)
            } else {
                ("mark", &head.mark)
            };
            if older(current.as_ref().map(|(o, _)| o)) {
                change.set.push(decide(fact, state != "deleted"));
            }
        }
        None => {}
    }
}

/// Whether an unfinished claim is in force.
fn held(head: &Head, now_ms: i64) -> bool {
    head.pending.is_some() && head.lease_until_ms.is_some_and(|until| until >= now_ms)
}

#[cfg(test)]
mod tests {
    use super::{Subject, digest};

    #[test]
    fn subjects_ignore_case_and_hold_no_name() {
        assert_eq!(Subject::user("Alice.Archer"), Subject::user("alice.archer"));
        assert_ne!(Subject::user("alice.archer"), Subject::group("alice.archer"));
        assert!(!Subject::user("alice.archer").key().contains("alice"));
        // The digest operators compute with `printf %s alice.archer | sha256sum`.
        assert_eq!(
            digest("ALICE.ARCHER"),
            "e30ac2e15f468b074f0a944d7798342a96ab0aa2e0bbe841c1d476e92dc024a7"
        );
    }
}
