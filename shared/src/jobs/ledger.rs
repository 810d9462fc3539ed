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

use std::collections::HashSet;
use std::fmt::Write;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::dynamodb::{Claim, Field, Head, LedgerTable, Record};
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
}

/// What the ledger says about a request.
#[derive(Debug)]
enum Verdict {
    /// Apply it; `Some` holds the claim to finish or release, `None` when the request
    /// is applied unordered (no ledger, or no time).
    Apply(Option<Ticket>),
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
    order: String,
    record_key: String,
    at: String,
    event_id: Option<String>,
    function: Function,
    step: &'static str,
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
    /// its `outcome`; or answers `turned_away(duplicate)` without running it.
    pub(crate) async fn run<R, Fut>(
        &self,
        step: Step,
        event: &EventMeta,
        deadline: Deadline,
        turned_away: impl FnOnce(bool) -> R,
        job: impl FnOnce(Option<String>) -> Fut,
        outcome: impl FnOnce(&R) -> Outcome,
    ) -> Result<R, Error>
    where
        Fut: Future<Output = Result<R, Error>>,
    {
        let ticket = match self.begin(step, event, deadline).await? {
            Verdict::Stale => return Ok(turned_away(false)),
            Verdict::Duplicate => return Ok(turned_away(true)),
            Verdict::Apply(ticket) => ticket,
        };
        // Boxed: the job's future is deep, and the runtime nests it further.
        let result = Box::pin(job(ticket.as_ref().map(|t| t.order.clone()))).await;
        self.settle(ticket, result, outcome).await
    }

    /// Claims the step's subject for the request, or says why not.
    async fn begin(&self, step: Step, event: &EventMeta, deadline: Deadline) -> Result<Verdict, Error> {
        let Step {
            subject,
            function,
            name: step,
            rank,
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
        match table.claim(subject.key(), &order, millis(now), millis(until)).await? {
            Claim::Claimed => Ok(Verdict::Apply(Some(Ticket {
                subject,
                order,
                record_key,
                at: at.rfc3339(),
                event_id: event.event_id.clone(),
                function,
                step,
            }))),
            Claim::Refused(head) => {
                // A head older than this event refused it only because another event
                // held the subject at that moment (it may have let go since): retry.
                let newer = head.order.as_deref().is_some_and(|o| o >= order.as_str());
                if !newer {
                    return Err(Error::ConcurrentModification {
                        operation: "ledger",
                        detail: "another event of the same subject is being applied; retry later".into(),
                    });
                }
                if event.event_id.is_some() && table.recorded(subject.key(), &record_key).await? {
                    tracing::info!(function = function.name(), step, "event already applied: duplicate");
                    Ok(Verdict::Duplicate)
                } else {
                    tracing::info!(function = function.name(), step, "a newer event was applied: stale");
                    Ok(Verdict::Stale)
                }
            }
        }
    }

    /// Ends the claim and records what the event did.
    async fn finish(&self, ticket: &Ticket, outcome: &Outcome) -> Result<(), Error> {
        let Some(table) = self.table else { return Ok(()) };
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
        table
            .finish(ticket.subject.key(), &ticket.order, outcome.state, &record)
            .await
    }

    /// Finishes the claim after the job succeeded, or releases it after it failed.
    /// A ledger that cannot record a finished job fails the request (retryably): the
    /// retry resumes the claim and re-applies, which the jobs' idempotency makes safe.
    async fn settle<R>(
        &self,
        ticket: Option<Ticket>,
        result: Result<R, Error>,
        outcome: impl FnOnce(&R) -> Outcome,
    ) -> Result<R, Error> {
        let Some(ticket) = ticket else { return result };
        match result {
            Ok(done) => {
                self.finish(&ticket, &outcome(&done)).await?;
                Ok(done)
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

    /// The roster members (userNames) whose own newer event supersedes a roster's add
    /// at `order`: a leaver revoked or deleted later, or an event being applied now
    /// that is newer. A member whose older event is being applied now makes the roster
    /// retry later, so that the two do not interleave.
    pub(crate) async fn superseded(&self, order: &str, names: &[&str]) -> Result<HashSet<String>, Error> {
        let Some(table) = self.table else {
            return Ok(HashSet::new());
        };
        if names.is_empty() {
            return Ok(HashSet::new());
        }
        let subjects: Vec<String> = names.iter().map(|n| Subject::user(n).0).collect();
        let heads = table.heads(&subjects).await?;
        let now = millis(now());
        let mut out = HashSet::new();
        for (name, subject) in names.iter().zip(&subjects) {
            let Some(head) = heads.get(subject) else { continue };
            let newer = head.order.as_deref().is_some_and(|o| o > order);
            if held(head, now) && !newer {
                return Err(Error::ConcurrentModification {
                    operation: "ledger",
                    detail: "a listed member's older event is being applied; retry later".into(),
                });
            }
            let left = matches!(head.state.as_deref(), Some("revoked" | "deleted"));
            if newer && (left || held(head, now)) {
                out.insert((*name).to_owned());
            }
        }
        Ok(out)
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
