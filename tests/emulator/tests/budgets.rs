//! The call budgets the product promises, counted by the emulator per API. A change
//! that adds calls fails here.
//!
//! - joiner with G existing groups: at most 1 + 2G calls;
//! - unchanged re-onboard with G groups: at most G + 4 calls and no write;
//! - leaver with M memberships (M <= 100): at most M + 3 calls;
//! - sync-group replace: at most 2 + ceil(M/100) + min(N + R, ceil(U/100)) + D calls.

use serde_json::{Value, json};
use turnstile::Deadline;

mod support;
use support::store::Bench;

fn joiner(groups: &[&str]) -> Value {
    json!({
        "user": {
            "userName": "joiner",
            "displayName": "Joiner",
            "name": { "givenName": "Jo", "familyName": "Iner" },
            "emails": [{ "value": "joiner@example.com", "type": "work", "primary": true }],
            "title": "Engineer"
        },
        "groups": groups
    })
}

/// A store holding these groups.
async fn with_groups(groups: &[&str]) -> Bench {
    let bench = Bench::start().await;
    for g in groups {
        bench.group(g).await;
    }
    bench
}

#[tokio::test]
async fn a_joiner_with_g_existing_groups_costs_at_most_1_plus_2g_calls() {
    let groups = ["g1", "g2", "g3", "g4"];
    let bench = with_groups(&groups).await;
    let service = bench.service(|_| {});
    bench.count_from_now().await;

    let result = service
        .onboard(Deadline::unbounded(), turnstile::decode(joiner(&groups)).unwrap())
        .await
        .unwrap();

    assert_eq!(result.groups.added.len(), 4);
    let counters = bench.counters().await;
    assert!(
        counters.total() <= 1 + 2 * 4,
        "{} calls: {counters:?}",
        counters.total()
    );
}

#[tokio::test]
async fn an_unchanged_re_onboard_costs_at_most_g_plus_4_calls_and_writes_nothing() {
    let bench = Bench::start().await;
    let groups = ["g1", "g2", "g3", "g4", "g5"];
    let service = bench.service(|_| {});
    let event = joiner(&groups);
    service
        .onboard(Deadline::unbounded(), turnstile::decode(event.clone()).unwrap())
        .await
        .unwrap();
    bench.count_from_now().await;

    let result = service
        .onboard(Deadline::unbounded(), turnstile::decode(event).unwrap())
        .await
        .unwrap();

    assert_eq!(result.status, turnstile::OnboardStatus::Unchanged);
    let counters = bench.counters().await;
    assert!(counters.total() <= 5 + 4, "{} calls: {counters:?}", counters.total());
    assert_eq!(counters.writes(), 0, "{counters:?}");
}

#[tokio::test]
async fn a_leaver_with_m_memberships_costs_at_most_m_plus_3_calls_in_either_mode() {
    for mode in ["delete", "revoke"] {
        let bench = Bench::start().await;
        let user = bench.user("leaver").await;
        for i in 0..7 {
            let group = bench.group(&format!("g{i}")).await;
            bench.member(&group, &user).await;
        }
        let service = bench.service(|_| {});
        bench.count_from_now().await;

        let request = turnstile::decode(json!({ "userName": "leaver", "mode": mode })).unwrap();
        let result = service.offboard(Deadline::unbounded(), request).await.unwrap();

        assert_eq!(result.removed_memberships, 7);
        let counters = bench.counters().await;
        assert!(
            counters.total() <= 7 + 3,
            "{mode}: {} calls: {counters:?}",
            counters.total()
        );
    }
}

/// 2 + ceil(M/100) + min(N + R, ceil(U/100)) + D, in the letters.
#[allow(clippy::many_single_char_names)]
fn budget(m: u64, n: u64, r: u64, u: u64, d: u64) -> u64 {
    2 + m.div_ceil(100) + (n + r).min(u.div_ceil(100)) + d
}

/// Sets up `users` users `u000`.. and a group `roster` holding the first `members`.
async fn store_with(bench: &Bench, users: usize, members: usize) {
    let mut ids = Vec::new();
    for i in 0..users {
        ids.push(bench.user(&format!("u{i:03}")).await);
    }
    let group = bench.group("roster").await;
    for id in &ids[..members] {
        bench.member(&group, id).await;
    }
}

#[tokio::test]
async fn a_small_replace_resolved_by_listing_users_costs_at_most_its_budget() {
    // U = 12 users; the group has 6 members; the roster keeps 4, adds 3, names 1 nobody has.
    let bench = Bench::start().await;
    store_with(&bench, 12, 6).await;
    let service = bench.service(|c| c.expected_store_users = 12);
    bench.count_from_now().await;

    let request = turnstile::decode(json!({
        "group": { "displayName": "roster" },
        "members": ["u000", "u001", "u002", "u003", "u006", "u007", "u008", "nobody"]
    }))
    .unwrap();
    let result = service.sync_group(Deadline::unbounded(), request).await.unwrap();

    assert_eq!(
        (result.added.len(), result.removed.len(), result.unresolved.len()),
        (3, 2, 1)
    );
    let counters = bench.counters().await;
    assert_eq!(counters.calls("ListUsers"), 1, "{counters:?}");
    assert!(
        counters.total() <= budget(6, 8, 2, 12, 5),
        "{} calls: {counters:?}",
        counters.total()
    );
}

#[tokio::test]
async fn a_small_replace_in_a_large_store_resolved_by_lookups_costs_at_most_its_budget() {
    // U = 350 users (4 pages); the group has 2 members; the roster keeps 1 and adds 1.
    let bench = Bench::start().await;
    store_with(&bench, 350, 2).await;
    let service = bench.service(|c| c.expected_store_users = 350);
    bench.count_from_now().await;

    let request =
        turnstile::decode(json!({ "group": { "displayName": "roster" }, "members": ["u000", "u100"] })).unwrap();
    let result = service.sync_group(Deadline::unbounded(), request).await.unwrap();

    assert_eq!((result.added.len(), result.removed.len()), (1, 1));
    let counters = bench.counters().await;
    assert_eq!(counters.calls("ListUsers"), 0, "{counters:?}");
    assert!(
        counters.total() <= budget(2, 2, 1, 350, 2),
        "{} calls: {counters:?}",
        counters.total()
    );
}

#[tokio::test]
async fn a_replace_into_a_missing_group_costs_at_most_its_budget() {
    let bench = Bench::start().await;
    for i in 0..5 {
        bench.user(&format!("u{i}")).await;
    }
    let service = bench.service(|c| c.expected_store_users = 5);
    bench.count_from_now().await;

    let request =
        turnstile::decode(json!({ "group": { "displayName": "new" }, "members": ["u0", "u1", "u2", "u3", "u4"] }))
            .unwrap();
    let result = service.sync_group(Deadline::unbounded(), request).await.unwrap();

    assert_eq!(result.status, turnstile::SyncStatus::Created);
    let counters = bench.counters().await;
    assert!(
        counters.total() <= budget(0, 5, 0, 5, 5),
        "{} calls: {counters:?}",
        counters.total()
    );
}

#[tokio::test]
async fn under_throttles_shaped_like_the_real_service_a_joiner_does_the_same_work_within_its_budget() {
    // The captured throttle: HTTP 400, "Rate exceeded", no RetryAfterSeconds and no
    // request id. The functions back off on their own and retry; the calls that got
    // through are still the budget's.
    let groups = ["g1", "g2", "g3", "g4"];
    let bench = with_groups(&groups).await;
    let service = bench.service(|config| {
        config.retry.base_delay = std::time::Duration::from_millis(2);
        config.retry.max_delay = std::time::Duration::from_millis(20);
        config.retry.max_attempts = 20;
    });
    bench
        .admin
        .set_faults(&turnstile_emulator::FaultConfig {
            seed: 7,
            default: turnstile_emulator::FaultSpec {
                throttle_probability: 0.3,
                throttle_shape: turnstile_emulator::ThrottleShape::Captured,
                ..turnstile_emulator::FaultSpec::default()
            },
            ..turnstile_emulator::FaultConfig::default()
        })
        .await
        .expect("faults are set");
    bench.count_from_now().await;

    let result = service
        .onboard(Deadline::unbounded(), turnstile::decode(joiner(&groups)).unwrap())
        .await
        .unwrap();

    assert_eq!(result.groups.added.len(), 4);
    let counters = bench.counters().await;
    let throttled: u64 = counters
        .operations
        .values()
        .filter_map(|outcomes| outcomes.get("ThrottlingException"))
        .sum();
    assert!(throttled > 0, "throttles were injected: {counters:?}");
    assert!(
        counters.total() - throttled <= 1 + 2 * 4,
        "{} calls through, {throttled} throttled: {counters:?}",
        counters.total() - throttled
    );
}
