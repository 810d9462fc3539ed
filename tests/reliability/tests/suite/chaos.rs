//! Chaos delivery: the ledger's promise that any delivery order of a set of events, with
//! any duplicates, ends in the state that the same events give applied once each in
//! time order.
//!
//! From a seed, a history of HR events over 24 people and 6 groups: hires, moves,
//! leavers in both modes, workflows' delete steps after the grace period (with their
//! revoke's time and id, so a re-hire in between makes them stale), terminations sent
//! again, re-hires (after a revoke and after a delete; some soon after the leave and
//! followed by a team's roster adding the person), roster replaces, adds and removes, one
//! minute apart, each with its own `occurredAt` and `eventId` (half in the EventBridge
//! form, carrying them as `time` and `id`). Rosters and onboarding list only people
//! employed at that moment, as an HR system's would.
//!
//! Each history is applied three times, each to a fresh emulator and ledger table (moto's
//! DynamoDB on 127.0.0.1), with the leavers fence on (`RELIABILITY_FENCE=off` turns it
//! off, for the question of what a late revoke may take, which awaits the owner):
//! - (a) the reference: once each, in time order, no faults;
//! - (b) shuffled, with duplicates, some events delayed past newer ones and some
//!   redriven at the very end, with the emulator's throttling, 5xx and
//!   CONCURRENT_MODIFICATION faults on; every delivery is re-invoked for as long as it
//!   fails with a retryable error, as Lambda and SQS redeliver;
//! - (c) the delivery of (b) with the ledger off: the control, which must produce
//!   mismatches on some seeds, so that the suite can fail;
//! - (d) unless `RELIABILITY_SIDE_BY_SIDE=0`: the delivery of (b), four deliveries side
//!   by side at a time (`RELIABILITY_SIDE_BY_SIDE` sets how many) (as Lambda runs invocations at once), each retry backing off with
//!   a random part, so that events of one person, or of a person and a group they are
//!   listed in, meet in the ledger. Which of them meet depends on timing; what must
//!   hold does not.
//!
//! (b) and (d) must equal (a) for every seed: the same users with the same attributes,
//! the same groups, the same memberships (the leavers marks included), no duplicate
//! identity. Which of (d)'s deliveries overlap depends on timing; the outcome may not.

use std::collections::BTreeMap;

use futures_util::StreamExt;
use serde_json::{Value, json};
use turnstile::Service;
use turnstile_emulator::moto::Moto;
use turnstile_emulator::{FaultConfig, FaultSpec, ThrottleShape};
use turnstile_reliability::people::{self, GROUPS};
use turnstile_reliability::{Delivery, Emu, Function, Snapshot, deliver, deliver_beside_others, sizing, test_config};

const PEOPLE: usize = 24;
const TEAMS: usize = 6;
const LEAVERS: &str = "turnstile-leavers";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Employment {
    Never,
    Active(usize),
    Revoked(usize),
    Deleted(usize),
}

#[derive(Debug, Clone)]
struct Event {
    function: Function,
    kind: &'static str,
    payload: Value,
    /// The event whose time and id this one carries: a leaver's delete after the grace
    /// period is the second step of the leaver event (workflows mode).
    step_of: Option<usize>,
}

impl Event {
    fn new(function: Function, kind: &'static str, payload: Value) -> Self {
        Self {
            function,
            kind,
            payload,
            step_of: None,
        }
    }
}

/// How many events back a leave still counts as recent: a re-hire that soon, and the
/// roster that follows it, are what a delayed leave is most often delivered after.
const RECENT: usize = 4;

/// The seed's history, in time order.
fn history(seed: u64) -> Vec<Event> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut staff = [Employment::Never; PEOPLE];
    // The index of each person's last leave, and revokes whose delete step is to come.
    let mut left_at = [None::<usize>; PEOPLE];
    let mut grace: Vec<(usize, usize)> = Vec::new();
    let count = rng.usize(40..=70);
    let mut events = Vec::with_capacity(count + 1);
    while events.len() < count {
        let now = events.len();
        let active: Vec<usize> = (0..PEOPLE)
            .filter(|&p| matches!(staff[p], Employment::Active(_)))
            .collect();
        let leavers: Vec<usize> = (0..PEOPLE)
            .filter(|&p| matches!(staff[p], Employment::Revoked(_) | Employment::Deleted(_)))
            .collect();
        let recent: Vec<usize> = leavers
            .iter()
            .copied()
            .filter(|&p| left_at[p].is_some_and(|at| now - at <= RECENT))
            .collect();
        let team = |rng: &mut fastrand::Rng| GROUPS[rng.usize(..TEAMS)];
        let some_active = |rng: &mut fastrand::Rng, max: usize| -> Vec<String> {
            let mut names: Vec<String> = (0..rng.usize(1..=max))
                .filter(|_| !active.is_empty())
                .map(|_| people::person(active[rng.usize(..active.len())], 0).user_name)
                .collect();
            names.sort();
            names.dedup();
            names
        };
        let roll = rng.u8(..100);
        let event = match roll {
            // A hire: someone never employed, or a re-hire of a leaver; a quarter of the
            // re-hires are of a recent leaver, whom a team's roster then adds.
            0..=31 => {
                let soon = roll >= 24 && !recent.is_empty();
                let candidates: Vec<usize> = if soon {
                    recent
                } else {
                    (0..PEOPLE)
                        .filter(|&p| !matches!(staff[p], Employment::Active(_)))
                        .collect()
                };
                if candidates.is_empty() {
                    continue;
                }
                let index = candidates[rng.usize(..candidates.len())];
                let (version, kind) = match staff[index] {
                    Employment::Never => (0, "hire"),
                    Employment::Revoked(v) => (v + 1, "rehire-after-revoke"),
                    Employment::Deleted(v) => (v + 1, "rehire-after-delete"),
                    Employment::Active(_) => unreachable!("filtered out"),
                };
                staff[index] = Employment::Active(version);
                // A quick re-hire always lists a team: its claim then checks the groups.
                let least = usize::from(soon);
                let groups: Vec<&str> = (0..rng.usize(least..=2)).map(|_| team(&mut rng)).collect();
                let mut groups = groups;
                groups.dedup();
                let person = people::person(index, version);
                events.push(Event::new(
                    Function::OnboardUser,
                    kind,
                    people::onboard(&person, &groups),
                ));
                if soon {
                    let members = [person.user_name.clone()];
                    Event::new(
                        Function::SyncGroup,
                        "roster-add",
                        people::sync(team(&mut rng), &members, "add"),
                    )
                } else {
                    continue;
                }
            }
            // A move: new attributes (title, contacts), maybe another team.
            32..=46 => {
                if active.is_empty() {
                    continue;
                }
                let index = active[rng.usize(..active.len())];
                let Employment::Active(version) = staff[index] else {
                    unreachable!("active")
                };
                staff[index] = Employment::Active(version + 1);
                let groups: Vec<&str> = (0..rng.usize(0..=1)).map(|_| team(&mut rng)).collect();
                let person = people::person(index, version + 1);
                Event::new(Function::OnboardUser, "move", people::onboard(&person, &groups))
            }
            47..=58 => {
                if active.is_empty() {
                    continue;
                }
                let index = active[rng.usize(..active.len())];
                let Employment::Active(version) = staff[index] else {
                    unreachable!("active")
                };
                let user_name = people::person(index, 0).user_name;
                left_at[index] = Some(now);
                if rng.bool() {
                    staff[index] = Employment::Revoked(version);
                    // Half the revokes run in a workflow, whose delete step comes later.
                    if rng.bool() {
                        grace.push((index, now));
                    }
                    Event::new(
                        Function::OffboardUser,
                        "leaver-revoke",
                        people::offboard(&user_name, Some("revoke")),
                    )
                } else {
                    staff[index] = Employment::Deleted(version);
                    Event::new(
                        Function::OffboardUser,
                        "leaver-delete",
                        people::offboard(&user_name, None),
                    )
                }
            }
            // The grace period of a workflow's revoke ends: its delete step, with the
            // revoke's time and id. It deletes the person unless they were re-hired since.
            59..=63 => {
                if grace.is_empty() {
                    continue;
                }
                let (index, revoke) = grace.swap_remove(rng.usize(..grace.len()));
                if let Employment::Revoked(version) = staff[index]
                    && left_at[index] == Some(revoke)
                {
                    staff[index] = Employment::Deleted(version);
                }
                let user_name = people::person(index, 0).user_name;
                Event {
                    step_of: Some(revoke),
                    ..Event::new(
                        Function::OffboardUser,
                        "leaver-grace-delete",
                        people::offboard(&user_name, Some("delete")),
                    )
                }
            }
            // The HR system sends a leaver's termination again, as a new event, most
            // often soon after the first.
            64..=66 => {
                let candidates = if recent.is_empty() || rng.u8(..4) == 0 {
                    &leavers
                } else {
                    &recent
                };
                if candidates.is_empty() {
                    continue;
                }
                let index = candidates[rng.usize(..candidates.len())];
                let user_name = people::person(index, 0).user_name;
                // The newest leave now: a pending delete step of an older one is stale.
                left_at[index] = Some(now);
                Event::new(
                    Function::OffboardUser,
                    "leaver-again",
                    people::offboard(&user_name, Some("revoke")),
                )
            }
            67..=79 => {
                let members = if active.is_empty() {
                    Vec::new()
                } else {
                    some_active(&mut rng, 6)
                };
                Event::new(
                    Function::SyncGroup,
                    "roster-replace",
                    people::sync(team(&mut rng), &members, "replace"),
                )
            }
            80..=91 => {
                if active.is_empty() {
                    continue;
                }
                let members = some_active(&mut rng, 3);
                Event::new(
                    Function::SyncGroup,
                    "roster-add",
                    people::sync(team(&mut rng), &members, "add"),
                )
            }
            _ => {
                if active.is_empty() {
                    continue;
                }
                let members = some_active(&mut rng, 2);
                Event::new(
                    Function::SyncGroup,
                    "roster-remove",
                    people::sync(team(&mut rng), &members, "remove"),
                )
            }
        };
        events.push(event);
    }
    // One minute apart, from 2026-03-02T08:00:00Z (a delete step at its revoke's time);
    // half carried in the envelope.
    let stamps: Vec<(String, String)> = (0..events.len())
        .map(|i| {
            let minutes = 8 * 60 + i;
            let time = format!("2026-03-02T{:02}:{:02}:00Z", minutes / 60, minutes % 60);
            (time, format!("chaos-{seed}-{i}"))
        })
        .collect();
    for (i, event) in events.iter_mut().enumerate() {
        let (time, id) = stamps[event.step_of.unwrap_or(i)].clone();
        if rng.bool() {
            let detail_type = match event.function {
                Function::OnboardUser => "Employee Hired",
                Function::OffboardUser => "Employee Terminated",
                Function::SyncGroup => "Group Roster Changed",
            };
            let mut envelope = people::envelope(detail_type, event.payload.clone());
            envelope["time"] = json!(time);
            envelope["id"] = json!(id);
            event.payload = envelope;
        } else {
            event.payload["occurredAt"] = json!(time);
            event.payload["eventId"] = json!(id);
        }
    }
    events
}

/// The chaotic delivery of a history: indices into it, shuffled, with duplicates, late
/// deliveries and end-of-run redrives. Also returns how many deliveries are repeats.
fn chaotic(seed: u64, events: usize) -> (Vec<usize>, usize) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_c4a0);
    let index = |i: usize| f64::from(u32::try_from(i).expect("a history is short"));
    let end = index(events) + 50.0;
    let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(events * 2);
    let mut repeats = 0;
    for i in 0..events {
        let at = index(i);
        let key = match rng.u8(..100) {
            // Redriven from a dead-letter queue at the very end.
            0..=6 => end + rng.f64() * 10.0,
            // Delayed past several newer events.
            7..=19 => at + 3.0 + rng.f64() * 15.0,
            // Delivered about when it happened, in no fixed order with its neighbours.
            _ => at + rng.f64() * 3.0,
        };
        keyed.push((key, i));
        // At least once: a second delivery, soon after or at the very end.
        if rng.u8(..100) < 25 {
            repeats += 1;
            let again = if rng.bool() {
                key + rng.f64() * 5.0
            } else {
                end + rng.f64() * 10.0
            };
            keyed.push((again, i));
        }
    }
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    (keyed.into_iter().map(|(_, i)| i).collect(), repeats)
}

fn faults(seed: u64) -> FaultConfig {
    FaultConfig {
        seed,
        default: FaultSpec {
            throttle_probability: 0.06,
            error_probability: 0.04,
            conflict_probability: 0.04,
            // As the real service throttles: HTTP 400, no hint, no request id.
            throttle_shape: ThrottleShape::Captured,
            ..FaultSpec::default()
        },
        operations: BTreeMap::new(),
        lag_ms: 0,
    }
}

#[derive(Debug, Default, Clone)]
struct Verdicts {
    deliveries: u64,
    invocations: u64,
    stale: u64,
    duplicate: u64,
    failed: u64,
    /// Each delivery as `<event index>:<status or errorType>`, to read a failure by.
    log: Vec<String>,
}

/// One line per event: its index, kind and whom it names.
fn describe(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let detail = e.payload.get("detail").unwrap_or(&e.payload);
            let who = match e.function {
                Function::OnboardUser => format!("{} {}", detail["user"]["userName"], detail["groups"]),
                Function::OffboardUser => detail["userName"].to_string(),
                Function::SyncGroup => format!("{} {}", detail["group"]["displayName"], detail["members"]),
            };
            format!("{i} {} {who}", e.kind)
        })
        .collect()
}

/// Delivers `order` (indices into `events`) `window` at a time, side by side (one:
/// one after the other); each delivery is re-invoked until it ends without a
/// retryable error.
async fn apply(service: &Service, events: &[Event], order: &[usize], window: usize, seed: u64) -> Verdicts {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut verdicts = Verdicts::default();
    for deliveries in order.chunks(window) {
        let done = futures_util::future::join_all(deliveries.iter().map(|&i| {
            let event = &events[i];
            let rng = rng.fork();
            async move {
                if window == 1 {
                    deliver(service, event.function, &event.payload).await
                } else {
                    deliver_beside_others(service, event.function, &event.payload, rng).await
                }
            }
        }))
        .await;
        for (&i, done) in deliveries.iter().zip(done) {
            verdicts.tally(i, events[i].kind, &done);
        }
    }
    verdicts
}

impl Verdicts {
    fn tally(&mut self, i: usize, kind: &str, done: &Delivery) {
        self.deliveries += 1;
        self.invocations += u64::from(done.invocations);
        let status = match &done.outcome {
            Ok(result) => result["status"].as_str().unwrap_or_default().to_owned(),
            Err(error) => error.error_type.clone(),
        };
        self.log.push(format!("{i}:{status}"));
        match &done.outcome {
            Ok(result) => match result["status"].as_str() {
                Some("stale") => self.stale += 1,
                Some("duplicate") => self.duplicate += 1,
                _ => {}
            },
            Err(error) => {
                self.failed += 1;
                tracing::warn!(kind, error_type = %error.error_type, "a chaos delivery failed for good");
            }
        }
    }
}

/// One run of a history on a fresh emulator (and a fresh ledger table, unless `table`
/// is `None`): the final store, the verdicts and the faults injected.
async fn run(
    seed: u64,
    moto: &Moto,
    table: Option<String>,
    faults: Option<FaultConfig>,
    events: &[Event],
    (order, window): (&[usize], usize),
) -> (Snapshot, Verdicts, u64) {
    let emu = Emu::start(seed).await;
    let fence = sizing::fence();
    let mut service = emu
        .service_with(|config| config.leavers_group = fence.then(|| LEAVERS.into()))
        .await;
    // The template creates the leavers group with the stack (LeaversGroup set), so
    // whether a revoke found a user to mark does not decide whether the group exists.
    if fence {
        emu.client()
            .await
            .create_group()
            .identity_store_id(test_config().identity_store_id)
            .display_name(LEAVERS)
            .send()
            .await
            .expect("the leavers group is created");
    }
    let ledger = turnstile::testing::local_ledger_client(&moto.endpoint()).await;
    if let Some(table) = &table {
        turnstile::testing::create_ledger_table(&ledger, table).await;
        service = service.with_ledger(ledger.clone(), table);
    }
    if let Some(faults) = &faults {
        emu.set_faults(faults).await;
    }
    let verdicts = apply(&service, events, order, window, seed).await;
    emu.clear_faults().await;
    let injected = emu.counters().await.injected.values().flat_map(|o| o.values()).sum();
    if let Some(table) = &table {
        turnstile::testing::drop_ledger_table(&ledger, table).await;
    }
    (emu.snapshot().await, verdicts, injected)
}

/// What differs between two stores, by kind.
fn mismatches(reference: &Snapshot, store: &Snapshot) -> Vec<String> {
    let mut found = Vec::new();
    for (name, attributes) in &store.users {
        match reference.users.get(name) {
            None => found.push(format!("user {name} exists and should not (a re-created leaver?)")),
            Some(wanted) if wanted != attributes => {
                found.push(format!("user {name} has other attributes (an older move applied?)"));
            }
            Some(_) => {}
        }
    }
    for name in reference.users.keys().filter(|n| !store.users.contains_key(*n)) {
        found.push(format!("user {name} is missing (a deleted re-hire?)"));
    }
    for (group, user) in store.memberships.difference(&reference.memberships) {
        found.push(format!("extra membership {user} in {group}"));
    }
    for (group, user) in reference.memberships.difference(&store.memberships) {
        found.push(format!("missing membership {user} in {group}"));
    }
    for name in store.groups.keys().filter(|n| !reference.groups.contains_key(*n)) {
        found.push(format!("group {name} exists and should not"));
    }
    for name in reference.groups.keys().filter(|n| !store.groups.contains_key(*n)) {
        found.push(format!("group {name} is missing"));
    }
    for name in &store.duplicate_users {
        found.push(format!("duplicate user {name}"));
    }
    if !store.duplicate_memberships.is_empty() || store.dangling_memberships > 0 {
        found.push("duplicate or dangling memberships".into());
    }
    found
}

#[derive(Debug, Default)]
struct Figures {
    histories: u64,
    events: u64,
    deliveries: u64,
    repeats: u64,
    invocations: u64,
    stale: u64,
    duplicate: u64,
    failed: u64,
    faults: u64,
    mismatches: u64,
    control_histories_mismatched: u64,
    control_mismatches: u64,
    side_by_side_invocations: u64,
    side_by_side_mismatches: u64,
    kinds: BTreeMap<&'static str, u64>,
}

/// What one history gave: its events, deliveries, repeats, verdicts, faults, and the
/// mismatches of the chaotic delivery and of the control against the reference.
struct Outcome {
    seed: u64,
    events: Vec<Event>,
    deliveries: usize,
    repeats: usize,
    verdicts: Verdicts,
    injected: u64,
    wrong: Vec<String>,
    control: Vec<String>,
    /// The chaotic order again, [`sizing::side_by_side`] deliveries at a time: its mismatches
    /// and verdicts.
    side_by_side: Vec<String>,
    concurrent: Verdicts,
}

/// Runs `seeds`' histories against one moto server, several at once.
async fn histories(moto: &Moto, seeds: &[u64]) -> Vec<Outcome> {
    futures_util::stream::iter(seeds.iter().copied())
        .map(|seed| async move {
            let events = history(seed);
            let in_time: Vec<usize> = (0..events.len()).collect();
            let (order, repeats) = chaotic(seed, events.len());
            let (reference, _, _) = run(
                seed,
                moto,
                Some(format!("chaos-{seed}-a")),
                None,
                &events,
                (&in_time, 1),
            )
            .await;
            let (chaotic_store, verdicts, injected) = run(
                seed,
                moto,
                Some(format!("chaos-{seed}-b")),
                Some(faults(seed)),
                &events,
                (&order, 1),
            )
            .await;
            let (control, _, _) = run(seed, moto, None, Some(faults(seed)), &events, (&order, 1)).await;
            let (side_by_side, concurrent) = if let Some(window) = sizing::side_by_side() {
                let table = Some(format!("chaos-{seed}-d"));
                let (store, verdicts, _) = run(seed, moto, table, Some(faults(seed)), &events, (&order, window)).await;
                (mismatches(&reference, &store), verdicts)
            } else {
                (Vec::new(), Verdicts::default())
            };
            Outcome {
                seed,
                deliveries: order.len(),
                repeats,
                verdicts,
                injected,
                wrong: mismatches(&reference, &chaotic_store),
                control: mismatches(&reference, &control),
                side_by_side,
                concurrent,
                events,
            }
        })
        .buffer_unordered(sizing::concurrency())
        .collect()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh and ./scripts/reliability.sh"]
async fn any_delivery_order_with_duplicates_and_faults_ends_where_time_order_ends() {
    people::register(PEOPLE, 72);
    let first = sizing::first_seed();
    let seeds: Vec<u64> = (first..first + sizing::seeds()).collect();
    let mut outcomes = Vec::new();
    // One moto server per 25 histories: its memory grows with every table it has held.
    for chunk in seeds.chunks(25) {
        let moto = Moto::start().await;
        outcomes.extend(histories(&moto, chunk).await);
    }

    let mut figures = Figures::default();
    let mut failures = Vec::new();
    for Outcome {
        seed,
        events,
        deliveries,
        repeats,
        verdicts,
        injected,
        wrong,
        control,
        side_by_side,
        concurrent,
    } in outcomes
    {
        figures.side_by_side_invocations += concurrent.invocations;
        figures.side_by_side_mismatches += side_by_side.len() as u64;
        figures.failed += concurrent.failed;
        if !side_by_side.is_empty() {
            failures.push(format!(
                "seed {seed}, {} side by side: {side_by_side:#?}\nhistory:\n{}\ndeliveries: {}",
                sizing::side_by_side().unwrap_or_default(),
                describe(&events).join("\n"),
                concurrent.log.join(" ")
            ));
        }
        figures.histories += 1;
        figures.events += events.len() as u64;
        for event in &events {
            *figures.kinds.entry(event.kind).or_default() += 1;
        }
        figures.deliveries += deliveries as u64;
        figures.repeats += repeats as u64;
        figures.invocations += verdicts.invocations;
        figures.stale += verdicts.stale;
        figures.duplicate += verdicts.duplicate;
        figures.failed += verdicts.failed;
        figures.faults += injected;
        figures.mismatches += wrong.len() as u64;
        figures.control_mismatches += control.len() as u64;
        figures.control_histories_mismatched += u64::from(!control.is_empty());
        if !wrong.is_empty() {
            failures.push(format!(
                "seed {seed}: {wrong:#?}\nhistory:\n{}\ndeliveries: {}",
                describe(&events).join("\n"),
                verdicts.log.join(" ")
            ));
        }
    }
    sizing::report(
        "chaos-delivery",
        &json!({
            "histories": figures.histories,
            "events": figures.events,
            "eventKinds": figures.kinds,
            "deliveries": figures.deliveries,
            "repeatedDeliveries": figures.repeats,
            "invocations": figures.invocations,
            "stale": figures.stale,
            "duplicate": figures.duplicate,
            "failedForGood": figures.failed,
            "faultsInjected": figures.faults,
            "mismatches": figures.mismatches,
            "sideBySide": sizing::side_by_side().map(|window| json!({
                "atOnce": window,
                "invocations": figures.side_by_side_invocations,
                "mismatches": figures.side_by_side_mismatches,
            })),
            "ledgerOff": {
                "historiesMismatched": figures.control_histories_mismatched,
                "mismatches": figures.control_mismatches,
            },
        }),
    );
    assert_eq!(
        failures,
        Vec::<String>::new(),
        "with the ledger on, every delivery order ends as time order does"
    );
    assert_eq!(figures.failed, 0, "no delivery fails for good");
    assert!(
        figures.duplicate > 0 && figures.stale > 0,
        "the ledger turned events away: {figures:?}"
    );
    assert!(figures.faults > 0, "faults were injected");
    assert!(
        figures.control_histories_mismatched > 0,
        "the same deliveries with the ledger off end elsewhere, so this suite can fail: {figures:?}"
    );
}
