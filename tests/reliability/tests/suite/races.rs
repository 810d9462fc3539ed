//! Duplicate deliveries and races between invocations.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};
use turnstile::Service;
use turnstile_emulator::{FaultConfig, FaultSpec};
use turnstile_reliability::harness::kind;
use turnstile_reliability::people::{self, person};
use turnstile_reliability::{Emu, Function, Snapshot, deliver, logs, sizing};

fn names(indexes: &[usize]) -> Vec<String> {
    indexes.iter().map(|i| person(*i, 0).user_name).collect()
}

fn set(names: &[String]) -> BTreeSet<String> {
    names.iter().cloned().collect()
}

async fn ok(service: &Service, function: Function, payload: &Value) -> Value {
    let delivery = deliver(service, function, payload).await;
    match delivery.outcome {
        Ok(result) => result,
        Err(error) => panic!("{} failed: {error:?}", function.name()),
    }
}

/// Latency on some operations only.
fn slow(operations: &[(&str, u64)]) -> FaultConfig {
    let mut config = FaultConfig::default();
    for (operation, ms) in operations {
        config.operations.insert(
            (*operation).to_owned(),
            FaultSpec {
                latency_ms: *ms,
                ..FaultSpec::default()
            },
        );
    }
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_event_leaves_the_same_state_and_the_repeats_write_nothing() {
    people::register(10, 2);
    let emu = Emu::start(21).await;
    let service = emu.service().await;
    for i in 0..6 {
        let groups = [people::GROUPS[i % 3], "All Staff"];
        ok(
            &service,
            Function::OnboardUser,
            &people::onboard(&person(i, 0), &groups),
        )
        .await;
    }
    let p = |i: usize| person(i, 0).user_name;
    let cases: Vec<(&str, Function, Value)> = vec![
        (
            "joiner with a new group",
            Function::OnboardUser,
            people::onboard(&person(6, 0), &["Team Aurora", "Mobile Guild"]),
        ),
        (
            "joiner, EventBridge form",
            Function::OnboardUser,
            people::envelope("Employee Hired", people::onboard(&person(7, 0), &["All Staff"])),
        ),
        (
            "mover",
            Function::OnboardUser,
            people::onboard(&person(1, 1), &["Team Dynamo", "Team Borealis"]),
        ),
        (
            "sync replace",
            Function::SyncGroup,
            people::sync("Team Aurora", &[p(0), p(2), p(6), "nobody.known".into()], "replace"),
        ),
        (
            "sync replace of a new group with a description",
            Function::SyncGroup,
            json!({ "group": { "displayName": "Guild of Reviewers", "description": "People who review" }, "members": [p(3), p(4)] }),
        ),
        (
            "sync add",
            Function::SyncGroup,
            people::sync("Team Cirrus", &[p(0), p(5)], "add"),
        ),
        (
            "sync remove",
            Function::SyncGroup,
            people::sync("All Staff", &[p(5)], "remove"),
        ),
        (
            "leaver revoke",
            Function::OffboardUser,
            people::offboard(&p(3), Some("revoke")),
        ),
        ("leaver delete", Function::OffboardUser, people::offboard(&p(4), None)),
        (
            "leaver delete, EventBridge form",
            Function::OffboardUser,
            people::envelope("Employee Terminated", people::offboard(&p(2), Some("delete"))),
        ),
    ];
    let mut repeats = 0;
    for (label, function, payload) in &cases {
        let first = ok(&service, *function, payload).await;
        let state = emu.snapshot().await;
        let writes = emu.writes().await;
        assert!(writes > 0, "{label}: the first delivery wrote ({first})");
        for n in 2..=3 {
            ok(&service, *function, payload).await;
            repeats += 1;
            assert_eq!(emu.writes().await, writes, "{label}: delivery {n} wrote something");
            assert_eq!(emu.snapshot().await, state, "{label}: delivery {n} changed the store");
        }
        assert_eq!(state.anomalies(), 0, "{label}: duplicates");
    }
    sizing::report(
        "duplicate-deliveries",
        &json!({ "events": cases.len(), "repeatedDeliveries": repeats, "writesByRepeats": 0 }),
    );
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_event_delivered_three_times_at_once_ends_as_one_delivery_does() {
    people::register(10, 2);
    let p = |i: usize| person(i, 0).user_name;
    let cases: Vec<(Function, Value)> = vec![
        (
            Function::OnboardUser,
            people::onboard(&person(8, 0), &["Team Aurora", "Brand New Group", "All Staff"]),
        ),
        (Function::OnboardUser, people::onboard(&person(1, 1), &["Team Cirrus"])),
        (
            Function::SyncGroup,
            people::sync("Team Aurora", &[p(0), p(2), p(9)], "replace"),
        ),
        (Function::OffboardUser, people::offboard(&p(1), Some("revoke"))),
        (Function::OffboardUser, people::offboard(&p(1), None)),
    ];
    for (n, (function, payload)) in cases.iter().enumerate() {
        let mut states = Vec::new();
        for concurrent in [1, 3] {
            let emu = Emu::start(40 + n as u64).await;
            emu.set_faults(&FaultConfig {
                default: FaultSpec {
                    latency_ms: 2,
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            })
            .await;
            let setup = emu.service().await;
            for i in 0..4 {
                ok(
                    &setup,
                    Function::OnboardUser,
                    &people::onboard(&person(i, 0), &["Team Aurora", "All Staff"]),
                )
                .await;
            }
            ok(&setup, Function::OnboardUser, &people::onboard(&person(9, 0), &[])).await;
            let mut services = Vec::new();
            for _ in 0..concurrent {
                services.push(emu.service().await);
            }
            let deliveries = join_all(services.iter().map(|service| deliver(service, *function, payload))).await;
            for delivery in deliveries {
                assert_eq!(kind(&delivery.outcome), "ok", "{delivery:?}");
            }
            let state = emu.snapshot().await;
            assert_eq!(state.anomalies(), 0, "case {n}: duplicates");
            states.push(state);
        }
        assert_eq!(
            states[0], states[1],
            "case {n}: three concurrent deliveries differ from one"
        );
    }
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_joiners_for_the_same_new_user_create_exactly_one() {
    people::register(10, 1);
    let rounds = 6;
    for round in 0..rounds {
        let emu = Emu::start(60 + round).await;
        let setup = emu.service().await;
        ok(
            &setup,
            Function::SyncGroup,
            &people::sync("Team Aurora", &[], "replace"),
        )
        .await;
        // Latency widens the windows between lookups and creates; later rounds add
        // conflicts and throttling on top.
        emu.set_faults(&FaultConfig {
            seed: round,
            default: FaultSpec {
                latency_ms: round % 3 * 3,
                conflict_probability: if round >= 3 { 0.1 } else { 0.0 },
                throttle_probability: if round >= 4 { 0.05 } else { 0.0 },
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        })
        .await;
        let joiner = person(usize::try_from(round).expect("small"), 0);
        let new_group = format!("New Team {round}");
        let payload = people::onboard(&joiner, &["Team Aurora", &new_group, "All Staff"]);
        // Ten execution environments, as Lambda would start for ten events at once.
        let mut services = Vec::new();
        for _ in 0..10 {
            services.push(emu.service().await);
        }
        let deliveries = join_all(
            services
                .iter()
                .map(|service| deliver(service, Function::OnboardUser, &payload)),
        )
        .await;
        let mut created = 0;
        for delivery in deliveries {
            let result = delivery.outcome.expect("every joiner delivery succeeds");
            if result["status"] == "created" {
                created += 1;
            }
        }
        emu.clear_faults().await;
        let state = emu.snapshot().await;
        assert_eq!(created, 1, "round {round}: exactly one invocation created the user");
        assert_eq!(state.anomalies(), 0, "round {round}: {state:?}");
        assert_eq!(state.users.len(), 1, "round {round}: exactly one user");
        assert!(state.users.contains_key(&joiner.user_name));
        assert_eq!(
            emu.counters().await.get("CreateUser", "ok"),
            1,
            "round {round}: one CreateUser succeeded"
        );
        for group in ["Team Aurora", new_group.as_str(), "All Staff"] {
            assert_eq!(
                state.members(group),
                BTreeSet::from([joiner.user_name.clone()]),
                "round {round}: {group}"
            );
        }
        assert_eq!(state.groups.len(), 3, "round {round}: each group once");
    }
    sizing::report(
        "concurrent-joiners",
        &json!({ "rounds": rounds, "invocationsPerRound": 10, "usersCreatedPerRound": 1, "duplicates": 0 }),
    );
    assert_eq!(logs::findings(), vec![]);
}

/// A leaver with two memberships, a colleague, and `Team Cirrus` holding the colleague.
async fn leaver_setup(emu: &Emu) -> (String, String) {
    let setup = emu.service().await;
    let leaver = person(0, 0);
    let colleague = person(1, 0);
    ok(
        &setup,
        Function::OnboardUser,
        &people::onboard(&leaver, &["All Staff", "Team Aurora"]),
    )
    .await;
    ok(
        &setup,
        Function::OnboardUser,
        &people::onboard(&colleague, &["Team Cirrus"]),
    )
    .await;
    (leaver.user_name, colleague.user_name)
}

/// The leavers group of the tests that turn the fence on.
const LEAVERS: &str = "Leavers";

/// Runs a roster add of the leaver to `Team Cirrus` and the leaver's offboarding at
/// once, `head_start` after the sync starts, each re-delivered while retryable; both
/// with the leavers fence when `fence`. Returns the sync's delivery and the
/// offboarding's outcome kind.
async fn race_add_and_leave(
    emu: &Emu,
    leaver: &str,
    mode: Option<&str>,
    head_start: Duration,
    fence: bool,
    listing_lag: Duration,
) -> (Result<Value, String>, String) {
    let fenced = |c: &mut turnstile::Config| {
        c.leavers_group = fence.then(|| LEAVERS.to_owned());
        c.listing_lag = listing_lag;
    };
    let sync_service = emu.service_with(fenced).await;
    let offboard_service = emu.service_with(fenced).await;
    let add = people::sync("Team Cirrus", &[leaver.to_owned()], "add");
    let leave = people::offboard(leaver, mode);
    let (synced, offboarded) = tokio::join!(deliver(&sync_service, Function::SyncGroup, &add), async {
        tokio::time::sleep(head_start).await;
        deliver(&offboard_service, Function::OffboardUser, &leave).await
    });
    (synced.outcome.map_err(|e| format!("{e:?}")), kind(&offboarded.outcome))
}

/// One round of [`race_add_and_leave`] in a fresh store seeded `seed`: round 0 with the
/// `forced` faults and head start (ms), the others with small random latencies and
/// conflicts. Returns the leaver, the colleague, the sync's result, the offboarding's
/// outcome kind and the final state.
/// The emulator's replication lag in a race, and the functions' `LISTING_LAG_MS`.
#[derive(Debug, Clone, Copy)]
struct Lag {
    ms: u64,
    allowed_ms: u64,
}

impl Lag {
    /// As the environment sets them (`scripts/replication-lag.sh`); none by default.
    fn from_env() -> Self {
        Self {
            ms: sizing::lag_ms(),
            allowed_ms: sizing::listing_lag_ms(),
        }
    }
}

async fn race_round(
    seed: u64,
    round: u64,
    forced: (FaultConfig, u64),
    mode: &str,
    (fence, lag): (bool, Lag),
) -> (String, String, Result<Value, String>, String, Snapshot) {
    let emu = Emu::start(seed).await;
    let (leaver, colleague) = leaver_setup(&emu).await;
    let (faults, head_start) = if round == 0 {
        forced
    } else {
        let random = FaultConfig {
            seed: round,
            default: FaultSpec {
                latency_ms: round % 4,
                conflict_probability: 0.05,
                ..FaultSpec::default()
            },
            ..FaultConfig::default()
        };
        (random, round % 5 * 2)
    };
    let faults = FaultConfig {
        lag_ms: lag.ms,
        ..faults
    };
    emu.set_faults(&faults).await;
    let (synced, offboarded) = race_add_and_leave(
        &emu,
        &leaver,
        Some(mode),
        Duration::from_millis(head_start),
        fence,
        Duration::from_millis(lag.allowed_ms),
    )
    .await;
    emu.clear_faults().await;
    (leaver, colleague, synced, offboarded, emu.snapshot().await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roster_add_racing_a_leaver_delete_never_leaves_the_membership() {
    people::register(4, 1);
    let mut rounds = 0;
    // Random interleavings, and the one where the add's write lands after the delete.
    for round in 0..12u64 {
        let forced = (slow(&[("CreateGroupMembership", 400)]), 150);
        let (leaver, colleague, synced, offboarded, state) =
            race_round(80 + round, round, forced, "delete", (false, Lag::from_env())).await;
        assert_eq!(offboarded, "ok");
        assert!(synced.is_ok(), "{synced:?}");
        assert!(
            !state.users.contains_key(&leaver),
            "round {round}: the leaver is deleted"
        );
        assert!(
            state.groups_of(&leaver).is_empty(),
            "round {round}: the leaver keeps no membership"
        );
        assert_eq!(state.members("Team Cirrus"), BTreeSet::from([colleague]));
        assert_eq!(state.anomalies(), 0);
        rounds += 1;
    }
    sizing::report(
        "race-sync-add-vs-leaver-delete",
        &json!({ "rounds": rounds, "lagMs": sizing::lag_ms(), "leaverMembershipsLeft": 0 }),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roster_add_landing_while_a_revoke_is_still_removing_is_removed_too() {
    people::register(4, 1);
    let emu = Emu::start(90).await;
    let (leaver, colleague) = leaver_setup(&emu).await;
    // The revoke's first round of deletes is slow; the roster add lands during it, and
    // the revoke's next listing finds it.
    emu.set_faults(&slow(&[("DeleteGroupMembership", 600)])).await;
    let offboard_service = emu.service().await;
    let sync_service = emu.service().await;
    let leave = people::offboard(&leaver, Some("revoke"));
    let add = people::sync("Team Cirrus", std::slice::from_ref(&leaver), "add");
    let (offboarded, added) = tokio::join!(deliver(&offboard_service, Function::OffboardUser, &leave), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        ok(&sync_service, Function::SyncGroup, &add).await
    });
    assert_eq!(added["added"], json!([leaver]), "the add landed during the revoke");
    let revoked = offboarded.outcome.expect("revoked");
    emu.clear_faults().await;
    let state = emu.snapshot().await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["removedMemberships"], 3, "{revoked}");
    assert!(state.users.contains_key(&leaver), "revoke keeps the user");
    assert!(state.groups_of(&leaver).is_empty(), "{state:?}");
    assert_eq!(state.members("Team Cirrus"), BTreeSet::from([colleague]));
}

/// Twelve rounds of a roster add racing a fenced revoke under `lag`: random
/// interleavings, and (round 0) the one where the add lands after the revoke's last
/// listing: sync-group's survey (ListGroupMemberships) is slow, so it adds the leaver
/// after the revoke has marked it, listed and finished. Returns how many adds the
/// sync's second read took back.
async fn fenced_revoke_rounds(lag: Lag) -> u64 {
    people::register(4, 1);
    let mut taken_back = 0;
    for round in 0..12u64 {
        let forced = (slow(&[("ListGroupMemberships", 300)]), 50);
        let (leaver, colleague, synced, revoked, state) =
            race_round(120 + round, round, forced, "revoke", (true, lag)).await;
        assert_eq!(revoked, "ok");
        let synced = synced.expect("the sync succeeds");
        if synced.get("leavers") == Some(&json!([leaver])) && synced["added"] == json!([]) {
            taken_back += 1;
        }
        // Under replication lag no interleaving is forced.
        if round == 0 && lag.ms == 0 {
            assert_eq!(
                (&synced["added"], &synced["leavers"]),
                (&json!([]), &json!([leaver])),
                "the add landed after the revoke and was taken back: {synced}"
            );
        }
        assert!(
            state.users.contains_key(&leaver),
            "round {round}, {lag:?}: revoke keeps the user"
        );
        assert_eq!(
            state.groups_of(&leaver),
            BTreeSet::from([LEAVERS.to_owned()]),
            "round {round}, {lag:?}: the revoked leaver keeps only the mark"
        );
        assert_eq!(state.members("Team Cirrus"), BTreeSet::from([colleague]));
        assert_eq!(state.anomalies(), 0);
    }
    taken_back
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_roster_add_racing_a_fenced_revoke_never_leaves_the_membership() {
    let lag = Lag::from_env();
    let taken_back = fenced_revoke_rounds(lag).await;
    sizing::report(
        "race-sync-add-vs-fenced-revoke",
        &json!({ "rounds": 12, "lagMs": lag.ms, "listingLagMs": lag.allowed_ms, "addsTakenBack": taken_back,
                 "leaverMembershipsLeft": 0 }),
    );
}

/// Look-ups and listings 100 ms behind writes break the handshake when the functions do
/// not allow for it (RELIABILITY.md, "Replication lag"); `LISTING_LAG_MS` of the lag
/// restores it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_replication_lag_a_fence_that_allows_for_the_lag_still_keeps_a_revoked_leaver_out() {
    let lag = Lag {
        ms: 100,
        allowed_ms: 100,
    };
    let taken_back = fenced_revoke_rounds(lag).await;
    sizing::report(
        "race-sync-add-vs-fenced-revoke-under-lag",
        &json!({ "rounds": 12, "lagMs": lag.ms, "listingLagMs": lag.allowed_ms, "addsTakenBack": taken_back,
                 "leaverMembershipsLeft": 0 }),
    );
}

/// The documented limit with the fence off (`LEAVERS_GROUP` set empty): a revoke cannot
/// see an add that lands after its last listing, so that one membership stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_the_fence_a_roster_add_landing_after_a_revokes_last_listing_survives_it() {
    people::register(4, 1);
    let emu = Emu::start(91).await;
    let (leaver, _) = leaver_setup(&emu).await;
    // sync-group has looked the leaver up and its CreateGroupMembership is in flight
    // (slow) when offboard-user revoke lists, removes and lists again; the add lands
    // after the revoke has returned.
    emu.set_faults(&slow(&[("CreateGroupMembership", 400)])).await;
    let (synced, revoked) = race_add_and_leave(
        &emu,
        &leaver,
        Some("revoke"),
        Duration::from_millis(150),
        false,
        Duration::ZERO,
    )
    .await;
    emu.clear_faults().await;
    assert_eq!(revoked, "ok");
    assert_eq!(synced.expect("the sync succeeds")["added"], json!([leaver]));
    let state = emu.snapshot().await;
    assert_eq!(state.groups_of(&leaver), BTreeSet::from(["Team Cirrus".to_owned()]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_replaces_end_in_a_roster_or_converge_when_either_is_redelivered() {
    people::register(6, 1);
    let x = names(&[0]);
    let z = names(&[1]);
    let mut mixes = 0;
    let rounds = 8u64;
    for round in 0..rounds {
        let emu = Emu::start(100 + round).await;
        let setup = emu.service().await;
        for i in 0..4 {
            ok(&setup, Function::OnboardUser, &people::onboard(&person(i, 0), &[])).await;
        }
        ok(
            &setup,
            Function::SyncGroup,
            &people::sync("Team Dynamo", &names(&[0, 1]), "replace"),
        )
        .await;
        // Round 0: both read the group before either writes (slow listing): each removes
        // the member the other keeps. Other rounds: rosters with additions too, and
        // random timing.
        let (a, b) = if round % 2 == 0 {
            (x.clone(), z.clone())
        } else {
            (names(&[0, 2]), names(&[1, 3]))
        };
        let faults = if round < 2 {
            slow(&[("ListGroupMemberships", 150)])
        } else {
            FaultConfig {
                seed: round,
                default: FaultSpec {
                    latency_ms: round % 3,
                    ..FaultSpec::default()
                },
                ..FaultConfig::default()
            }
        };
        emu.set_faults(&faults).await;
        let replace_a = people::sync("Team Dynamo", &a, "replace");
        let replace_b = people::sync("Team Dynamo", &b, "replace");
        let (sa, sb) = (emu.service().await, emu.service().await);
        let (da, db) = tokio::join!(
            deliver(&sa, Function::SyncGroup, &replace_a),
            deliver(&sb, Function::SyncGroup, &replace_b)
        );
        assert_eq!(kind(&da.outcome), "ok");
        assert_eq!(kind(&db.outcome), "ok");
        emu.clear_faults().await;
        let end = emu.snapshot().await.members("Team Dynamo");
        // The contract allows either roster or, when both read the group before either
        // wrote, a mix of the two (RELIABILITY.md documents it). Which one happens
        // depends on scheduling, so the test asserts the allowed set, never that the
        // race happens: the group holds no one that neither roster lists.
        let is_a_roster = end == set(&a) || end == set(&b);
        let allowed: BTreeSet<String> = set(&a).union(&set(&b)).cloned().collect();
        assert!(
            end.is_subset(&allowed),
            "round {round}: the group holds members neither replace listed: {end:?}"
        );
        if !is_a_roster {
            mixes += 1;
        }
        // Whatever the end state, re-delivering either event converges to its roster.
        let service = emu.service().await;
        ok(&service, Function::SyncGroup, &replace_a).await;
        assert_eq!(emu.snapshot().await.members("Team Dynamo"), set(&a), "round {round}");
        ok(&service, Function::SyncGroup, &replace_b).await;
        assert_eq!(emu.snapshot().await.members("Team Dynamo"), set(&b), "round {round}");
    }
    sizing::report(
        "concurrent-replaces",
        &json!({ "rounds": rounds, "endedInAMixNeitherAskedFor": mixes, "convergedOnRedelivery": rounds }),
    );
}
