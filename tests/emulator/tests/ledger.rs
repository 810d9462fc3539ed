//! The event ledger against a real DynamoDB API (moto's server on 127.0.0.1) and the
//! emulator: late, duplicated and redriven events never undo newer ones, a roster never
//! re-adds a later leaver, two concurrent claims never both win, a broken ledger stops
//! the function before any Identity Store write, and the audit trail reads back.

mod support;

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use support::store::{Bench, STORE};
use turnstile::testing;
use turnstile::{Error, Offboard, Onboard, Service, SyncGroup};
use turnstile_emulator::moto::Moto;

const TABLE: &str = "turnstile-ledger";

/// The emulator, moto's DynamoDB with the ledger table, and a service using both.
struct World {
    bench: Bench,
    _moto: Moto,
    ledger: aws_sdk_dynamodb::Client,
}

impl World {
    async fn start() -> Self {
        let moto = Moto::start().await;
        let ledger = testing::local_ledger_client(&moto.endpoint()).await;
        testing::create_ledger_table(&ledger, TABLE).await;
        Self {
            bench: Bench::start().await,
            _moto: moto,
            ledger,
        }
    }

    fn service(&self) -> Service {
        self.bench.service(|_| {}).with_ledger(self.ledger.clone(), TABLE)
    }

    /// The same, with the leavers fence on (`turnstile-leavers`).
    fn fenced_service(&self) -> Service {
        self.bench
            .service(|config| config.leavers_group = Some("turnstile-leavers".into()))
            .with_ledger(self.ledger.clone(), TABLE)
    }

    /// A service whose ledger requests pass through `gate`, with the leavers fence on
    /// when `fenced` (as [`Self::fenced_service`]).
    fn gated_service(&self, gate: &Gate, fenced: bool) -> Service {
        self.bench
            .service(|config| {
                if fenced {
                    config.leavers_group = Some("turnstile-leavers".into());
                }
            })
            .with_ledger(gate.client(&self.ledger), TABLE)
    }

    /// A service whose ledger client counts its calls.
    fn counted(&self) -> (Service, LedgerCalls) {
        let calls = LedgerCalls::default();
        let client =
            aws_sdk_dynamodb::Client::from_conf(self.ledger.config().to_builder().interceptor(calls.clone()).build());
        (self.bench.service(|_| {}).with_ledger(client, TABLE), calls)
    }

    async fn title(&self, user_name: &str) -> Option<String> {
        let id = self.user_id(user_name).await?;
        let user = self
            .bench
            .client
            .describe_user()
            .identity_store_id(STORE)
            .user_id(id)
            .send()
            .await
            .unwrap();
        user.title
    }

    async fn user_id(&self, user_name: &str) -> Option<String> {
        let unique = aws_sdk_identitystore::types::UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(aws_smithy_types::Document::String(user_name.to_owned()))
            .build()
            .unwrap();
        self.bench
            .client
            .get_user_id()
            .identity_store_id(STORE)
            .alternate_identifier(aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(
                unique,
            ))
            .send()
            .await
            .ok()
            .map(|out| out.user_id)
    }

    /// An administrator deletes the user in the console, outside any event.
    async fn delete_by_hand(&self, user_name: &str) {
        let id = self.user_id(user_name).await.expect("the user exists");
        self.bench
            .client
            .delete_user()
            .identity_store_id(STORE)
            .user_id(id)
            .send()
            .await
            .unwrap();
    }

    /// Asserts that `user_name` is a member of exactly `groups`.
    async fn assert_groups(&self, user_name: &str, groups: &[&str]) {
        let wanted: BTreeSet<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        assert_eq!(self.groups_of(user_name).await, wanted);
    }

    async fn groups_of(&self, user_name: &str) -> BTreeSet<String> {
        let Some(id) = self.user_id(user_name).await else {
            return BTreeSet::new();
        };
        let listed = self
            .bench
            .client
            .list_group_memberships_for_member()
            .identity_store_id(STORE)
            .member_id(aws_sdk_identitystore::types::MemberId::UserId(id))
            .send()
            .await
            .unwrap();
        let mut names = BTreeSet::new();
        for m in listed.group_memberships {
            let group = self
                .bench
                .client
                .describe_group()
                .identity_store_id(STORE)
                .group_id(m.group_id.unwrap())
                .send()
                .await
                .unwrap();
            names.insert(group.display_name.unwrap_or_default());
        }
        names
    }
}

/// An EventBridge envelope with the event's id and time.
#[allow(clippy::needless_pass_by_value)] // reads as the event it builds
fn envelope(id: &str, time: &str, detail: Value) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "HR event", "source": "hr.test",
        "account": "111122223333", "time": time, "region": "eu-west-1", "resources": [],
        "detail": detail
    })
}

fn hire(title: &str, groups: &[&str]) -> Value {
    json!({
        "user": {
            "userName": "dana.diaz", "displayName": "Dana Diaz",
            "name": { "givenName": "Dana", "familyName": "Diaz" },
            "emails": [{ "value": "dana.diaz@example.com", "type": "work", "primary": true }],
            "title": title
        },
        "groups": groups
    })
}

/// dana.diaz's re-hire on the 22nd, listing no group.
fn rehire_of_the_22nd() -> Value {
    envelope("hire-2", "2026-11-22T09:00:00Z", hire("Engineer", &[]))
}

fn leave(mode: &str) -> Value {
    json!({ "userName": "dana.diaz", "mode": mode })
}

async fn onboard(service: &Service, event: Value) -> Result<Value, Error> {
    turnstile::handle::<Onboard>(service, testing::event(event))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

async fn offboard(service: &Service, event: Value) -> Result<Value, Error> {
    turnstile::handle::<Offboard>(service, testing::event(event))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

async fn sync(service: &Service, event: Value) -> Result<Value, Error> {
    turnstile::handle::<SyncGroup>(service, testing::event(event))
        .await
        .map(|r| serde_json::to_value(r).unwrap())
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_rehire_during_the_grace_period_makes_the_leavers_delayed_delete_stale() {
    let world = World::start().await;
    let service = world.service();
    let leaver = "leaver-1";
    onboard(
        &service,
        envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    let revoked = offboard(&service, envelope(leaver, "2026-11-20T17:00:00Z", leave("revoke")))
        .await
        .unwrap();
    assert_eq!(revoked["status"], "revoked");
    let rehired = onboard(
        &service,
        envelope("hire-2", "2026-11-24T09:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await
    .unwrap();
    assert_eq!(rehired["status"], "unchanged", "{rehired}");

    // The grace period ends: the workflow hands the leaver event's time and id to the
    // delete step.
    world.bench.count_from_now().await;
    let deleted = offboard(&service, envelope(leaver, "2026-11-20T17:00:00Z", leave("delete")))
        .await
        .unwrap();

    assert_eq!(deleted["status"], "stale", "{deleted}");
    assert_eq!(
        world.bench.counters().await.total(),
        0,
        "a stale event makes no Identity Store call"
    );
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_hire_redriven_after_the_termination_never_recreates_the_leaver() {
    let world = World::start().await;
    let service = world.service();
    let hired = envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"]));
    onboard(&service, hired.clone()).await.unwrap();
    let gone = offboard(&service, envelope("leave-1", "2026-11-20T17:00:00Z", leave("delete")))
        .await
        .unwrap();
    assert_eq!(gone["status"], "deleted");

    world.bench.count_from_now().await;
    // The same event from the dead-letter queue, and an older hire with another id.
    let redriven = onboard(&service, hired).await.unwrap();
    let older = onboard(
        &service,
        envelope("hire-0", "2026-10-01T09:00:00Z", hire("Intern", &["All"])),
    )
    .await
    .unwrap();

    assert_eq!(redriven["status"], "duplicate", "{redriven}");
    assert_eq!(older["status"], "stale", "{older}");
    assert_eq!(world.bench.counters().await.total(), 0);
    assert_eq!(world.user_id("dana.diaz").await, None, "the leaver stays gone");
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn two_updates_delivered_in_reverse_keep_the_newer_title() {
    let world = World::start().await;
    let service = world.service();
    onboard(
        &service,
        envelope("u-2", "2026-11-02T09:00:00Z", hire("Staff Engineer", &[])),
    )
    .await
    .unwrap();
    let older = onboard(&service, envelope("u-1", "2026-11-01T09:00:00Z", hire("Engineer", &[])))
        .await
        .unwrap();

    assert_eq!(older["status"], "stale");
    assert_eq!(older["userId"], Value::Null);
    assert_eq!(world.title("dana.diaz").await.as_deref(), Some("Staff Engineer"));
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_redelivered_event_is_a_duplicate_and_costs_no_identity_store_call() {
    let world = World::start().await;
    let service = world.service();
    let event = envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"]));
    assert_eq!(onboard(&service, event.clone()).await.unwrap()["status"], "created");
    world.bench.count_from_now().await;

    // The detail's own eventId and occurredAt take precedence over the envelope's.
    let bare = {
        let mut detail = hire("Engineer", &["Engineering"]);
        detail["eventId"] = json!("hire-1");
        detail["occurredAt"] = json!("2026-11-01T10:00:00+01:00");
        detail
    };
    assert_eq!(onboard(&service, event).await.unwrap()["status"], "duplicate");
    assert_eq!(onboard(&service, bare).await.unwrap()["status"], "duplicate");
    assert_eq!(world.bench.counters().await.total(), 0);
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn an_old_roster_never_adds_someone_who_left_later() {
    let world = World::start().await;
    let service = world.service();
    world.bench.user("erin.ellis").await;
    hired_then_revoked(&service, "2026-11-01T09:00:00Z", ("leave-1", "2026-11-20T17:00:00Z")).await;

    let roster = json!({ "group": { "displayName": "Engineering" }, "members": ["dana.diaz", "erin.ellis"] });
    let synced = sync(&service, envelope("roster-1", "2026-11-10T08:00:00Z", roster))
        .await
        .unwrap();

    assert_eq!(synced["added"], json!(["erin.ellis"]), "{synced}");
    assert_eq!(synced["superseded"], json!(["dana.diaz"]), "{synced}");
    assert!(world.groups_of("dana.diaz").await.is_empty());
}

/// dana.diaz hired without groups ("hire-1" at `hired_at`), then revoked.
async fn hired_then_revoked(service: &Service, hired_at: &str, (leave_id, revoked_at): (&str, &str)) {
    onboard(service, envelope("hire-1", hired_at, hire("Engineer", &[])))
        .await
        .unwrap();
    offboard(service, envelope(leave_id, revoked_at, leave("revoke")))
        .await
        .unwrap();
}

/// A fresh world in which dana.diaz was hired into Engineering on 2026-11-01.
async fn hired_in_engineering() -> (World, Service) {
    let world = World::start().await;
    let service = world.service();
    onboard(
        &service,
        envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    (world, service)
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_late_move_keeps_out_of_a_group_a_newer_roster_removed_the_person_from() {
    let (world, service) = hired_in_engineering().await;
    let roster = json!({ "group": { "displayName": "Engineering" }, "members": ["dana.diaz"], "mode": "remove" });
    sync(&service, envelope("roster-1", "2026-11-10T08:00:00Z", roster))
        .await
        .unwrap();

    // Older than the roster: its check of the group's head fails, and the ordinary
    // claim decides the group is superseded.
    let moved = onboard(
        &service,
        envelope(
            "move-1",
            "2026-11-05T09:00:00Z",
            hire("Senior Engineer", &["Engineering", "Platform"]),
        ),
    )
    .await
    .unwrap();

    assert_eq!(moved["groups"]["superseded"], json!(["Engineering"]), "{moved}");
    world.assert_groups("dana.diaz", &["Platform"]).await;
    assert_eq!(world.title("dana.diaz").await.as_deref(), Some("Senior Engineer"));
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_that_listed_the_person_before_the_hire_and_again_after_a_move_is_applied_by_each_newer_onboarding() {
    let (world, service) = hired_in_engineering().await;
    // Rosters newer than the two onboardings below, delivered first, each while an
    // administrator had deleted the user: a deferred decision on the person's head,
    // which the next onboarding must read even though one read the head before.
    let deferred = |id: &str, group: &str| {
        envelope(
            id,
            "2026-11-20T08:00:00Z",
            json!({ "group": { "displayName": group }, "members": ["dana.diaz"], "mode": "add" }),
        )
    };
    world.delete_by_hand("dana.diaz").await;
    sync(&service, deferred("roster-1", "Platform")).await.unwrap();
    let first = onboard(
        &service,
        envelope("move-1", "2026-11-05T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    assert_eq!(first["status"], "created", "{first}");
    world.assert_groups("dana.diaz", &["Engineering", "Platform"]).await;

    world.delete_by_hand("dana.diaz").await;
    sync(&service, deferred("roster-2", "Security")).await.unwrap();
    onboard(
        &service,
        envelope("move-2", "2026-11-06T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    assert!(
        world.groups_of("dana.diaz").await.contains("Security"),
        "a decision deferred after the last onboarding read the head"
    );
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn an_older_roster_after_a_newer_one_is_stale() {
    let world = World::start().await;
    let service = world.service();
    world.bench.user("erin.ellis").await;
    world.bench.user("finn.fox").await;
    let newer = json!({ "group": { "displayName": "Engineering" }, "members": ["erin.ellis"] });
    let older = json!({ "group": { "displayName": "engineering" }, "members": ["finn.fox"] });
    sync(&service, envelope("r-2", "2026-11-10T08:00:00Z", newer))
        .await
        .unwrap();
    world.bench.count_from_now().await;

    let late = sync(&service, envelope("r-1", "2026-11-09T08:00:00Z", older))
        .await
        .unwrap();

    assert_eq!(late["status"], "stale", "{late}");
    assert_eq!(world.bench.counters().await.total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn concurrent_updates_of_one_person_end_with_the_newer_title_whatever_the_timing() {
    let world = World::start().await;
    onboard(
        &world.service(),
        envelope("hire", "2026-11-01T09:00:00Z", hire("Engineer", &[])),
    )
    .await
    .unwrap();
    let (a, b) = (world.service(), world.service());
    let old = envelope("u-1", "2026-11-02T09:00:00Z", hire("Senior Engineer", &[]));
    let new = envelope("u-2", "2026-11-03T09:00:00Z", hire("Staff Engineer", &[]));
    let (first, second) = tokio::join!(onboard(&a, old.clone()), onboard(&b, new.clone()));

    // Which one claims first is the scheduler's choice. Allowed: each applied in turn,
    // the older one stale, or one told to retry because the other holds the person.
    for (outcome, event) in [(first, old), (second, new)] {
        match outcome {
            Ok(result) => assert!(
                ["updated", "unchanged", "stale"].contains(&result["status"].as_str().unwrap()),
                "{result}"
            ),
            Err(error) => {
                assert_eq!(error.error_type(), "ConcurrentModification", "{error}");
                // The retry a queue or Lambda would make.
                onboard(&world.service(), event).await.unwrap();
            }
        }
    }
    assert_eq!(world.title("dana.diaz").await.as_deref(), Some("Staff Engineer"));
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_missing_or_unreachable_ledger_fails_before_any_identity_store_call() {
    let world = World::start().await;
    let event = envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"]));
    world.bench.count_from_now().await;

    let missing = world
        .bench
        .service(|_| {})
        .with_ledger(world.ledger.clone(), "no-such-table");
    let error = onboard(&missing, event.clone()).await.unwrap_err();
    assert_eq!(error.error_type(), "Configuration", "{error}");

    let closed = format!("http://127.0.0.1:{}", support::free_port());
    let unreachable = world
        .bench
        .service(|_| {})
        .with_ledger(testing::local_ledger_client(&closed).await, TABLE);
    let error = onboard(&unreachable, event).await.unwrap_err();
    assert_eq!(error.error_type(), "ServiceUnavailable", "{error}");
    assert_eq!(world.bench.counters().await.total(), 0);
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_malformed_occurred_at_is_invalid_event_with_nothing_written() {
    let world = World::start().await;
    world.bench.count_from_now().await;
    let mut detail = hire("Engineer", &[]);
    detail["occurredAt"] = json!("yesterday");

    let error = onboard(&world.service(), detail).await.unwrap_err();

    assert_eq!(error.error_type(), "InvalidEvent");
    assert!(error.to_string().contains("occurredAt"), "{error}");
    assert_eq!(world.bench.counters().await.total(), 0);
    let items = world.ledger.scan().table_name(TABLE).send().await.unwrap();
    assert_eq!(items.count, 0, "the ledger holds nothing");
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_persons_history_reads_back_by_the_hash_of_the_username_and_holds_no_personal_data() {
    let (world, service) = hired_in_engineering().await;
    offboard(&service, envelope("leave-1", "2026-11-20T17:00:00Z", leave("revoke")))
        .await
        .unwrap();

    // The query the README gives operators, with the key computed as it says
    // (`printf %s dana.diaz | sha256sum`).
    let pk = format!("user#{}", sha256_hex("Dana.Diaz".to_lowercase().as_str()));
    assert_eq!(
        pk,
        "user#2278b68fa7852c402b5f75c967ef0430df4a1257e71943efeca34dcd03f826ab"
    );
    let history = world
        .ledger
        .query()
        .table_name(TABLE)
        .key_condition_expression("pk = :pk AND begins_with(sk, :event)")
        .expression_attribute_values(":pk", AttributeValue::S(pk))
        .expression_attribute_values(":event", AttributeValue::S("event#".into()))
        .send()
        .await
        .unwrap();

    let items = history.items.unwrap_or_default();
    let mut steps: Vec<(String, String)> = items
        .iter()
        .map(|item| {
            let text = |k: &str| item[k].as_s().unwrap().clone();
            (
                text("at"),
                format!("{}/{}/{}", text("function"), text("step"), text("outcome")),
            )
        })
        .collect();
    steps.sort();
    assert_eq!(
        steps,
        [
            (
                "2026-11-01T09:00:00Z".to_owned(),
                "onboard-user/onboard/created".to_owned()
            ),
            (
                "2026-11-20T17:00:00Z".to_owned(),
                "offboard-user/revoke/revoked".to_owned()
            ),
        ]
    );
    assert!(
        items
            .iter()
            .all(|i| i.contains_key("userId") && i.contains_key("expiresAt"))
    );

    let everything = format!(
        "{:?}",
        world.ledger.scan().table_name(TABLE).send().await.unwrap().items
    );
    for personal in ["dana", "Dana", "Diaz", "example.com", "Engineer"] {
        assert!(
            !everything.contains(personal),
            "the ledger stores {personal:?}: {everything}"
        );
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::new(), |mut hex, b| {
            write!(hex, "{b:02x}").unwrap();
            hex
        })
}

/// Counts the ledger's DynamoDB calls by operation (the `X-Amz-Target` each request
/// carries), through an interceptor on the real client.
#[derive(Debug, Clone, Default)]
struct LedgerCalls(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl aws_sdk_dynamodb::config::Intercept for LedgerCalls {
    fn name(&self) -> &'static str {
        "LedgerCalls"
    }

    fn read_before_transmit(
        &self,
        context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let target = context.request().headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default().to_owned();
        self.0.lock().expect("not poisoned").push(operation);
        Ok(())
    }
}

impl LedgerCalls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

/// Holds a ledger client's requests to chosen DynamoDB operations, in the order armed,
/// each until the test lets it go: a request sent before another event's lands after
/// it, as on a busy network, at the same point on any machine.
#[derive(Debug, Clone, Default)]
struct Gate(std::sync::Arc<GateState>);

#[derive(Debug, Default)]
struct GateState {
    armed: std::sync::Mutex<std::collections::VecDeque<&'static str>>,
    reached: tokio::sync::Notify,
    open: tokio::sync::Notify,
}

impl Gate {
    /// The next request to each of `operations`, one after the other, is held.
    fn arm(operations: &[&'static str]) -> Self {
        let gate = Self::default();
        gate.0.armed.lock().expect("not poisoned").extend(operations);
        gate
    }

    /// Waits until a request is held.
    async fn reached(&self) {
        self.0.reached.notified().await;
    }

    /// Lets the held request go.
    fn open(&self) {
        self.0.open.notify_one();
    }

    /// A client like `client` whose requests pass through the gate.
    fn client(&self, client: &aws_sdk_dynamodb::Client) -> aws_sdk_dynamodb::Client {
        use aws_smithy_runtime_api::client::http::{HttpClient, SharedHttpConnector, http_client_fn};
        // Moto listens on plain HTTP on 127.0.0.1.
        let inner = aws_smithy_http_client::Builder::new().build_http();
        let gate = self.clone();
        let http = http_client_fn(move |settings, components| {
            SharedHttpConnector::new(Gated {
                inner: inner.http_connector(settings, components),
                gate: gate.clone(),
            })
        });
        aws_sdk_dynamodb::Client::from_conf(client.config().to_builder().http_client(http).build())
    }
}

#[derive(Debug)]
struct Gated {
    inner: aws_smithy_runtime_api::client::http::SharedHttpConnector,
    gate: Gate,
}

impl aws_smithy_runtime_api::client::http::HttpConnector for Gated {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        let operation = target.rsplit('.').next().unwrap_or_default();
        let held = {
            let mut armed = self.gate.0.armed.lock().expect("not poisoned");
            let next = armed.front().is_some_and(|armed| *armed == operation);
            next && armed.pop_front().is_some()
        };
        let (inner, gate) = (self.inner.clone(), self.gate.clone());
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::new(async move {
            if held {
                gate.0.reached.notify_one();
                gate.0.open.notified().await;
            }
            aws_smithy_runtime_api::client::http::HttpConnector::call(&inner, request).await
        })
    }
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
#[expect(
    clippy::too_many_lines,
    reason = "one person's history, row by row, as the cost table in docs/contract.md reads"
)]
async fn each_event_costs_the_ledger_calls_the_contract_states() {
    let world = World::start().await;
    let (service, calls) = world.counted();
    let mut figures = Vec::new();
    let mut step = async |label: &str, result: Result<Value, Error>, expected: &[&str]| {
        let made = calls.take();
        let identity_store = world.bench.counters().await.total();
        world.bench.count_from_now().await;
        figures.push(format!("{label}: {made:?}, {identity_store} Identity Store call(s)"));
        assert_eq!(made, expected, "{label}: {result:?}");
        identity_store
    };

    let hired = envelope("e-1", "2026-11-01T09:00:00Z", hire("Engineer", &[]));
    let joiner = onboard(&service, hired.clone()).await;
    step("a joiner without groups", joiner, &["UpdateItem", "TransactWriteItems"]).await;
    // The person's newest finished event is this one: the refused claim's head says so.
    let again = onboard(&service, hired.clone()).await;
    assert_eq!(again.as_ref().unwrap()["status"], "duplicate");
    let made = step("its redelivery", again, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    let moved = envelope(
        "e-2",
        "2026-11-02T09:00:00Z",
        hire("Senior Engineer", &["Engineering", "Platform"]),
    );
    let mover = onboard(&service, moved.clone()).await;
    // The claim checks the groups' heads in its transaction (docs/contract.md, "How a
    // request is applied").
    step(
        "a mover with two groups",
        mover,
        &["TransactWriteItems", "TransactWriteItems"],
    )
    .await;
    let again = onboard(&service, moved.clone()).await;
    assert_eq!(again.as_ref().unwrap()["status"], "duplicate");
    // The check's refusal returns the head, whose newest event is this one.
    let made = step("its redelivery", again, &["TransactWriteItems"]).await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    // The move overtook the joiner's attributes and nothing waits on the head: the claim
    // refuses the older event, and its record in the audit trail says it was applied.
    let older_again = onboard(&service, hired).await;
    assert_eq!(older_again.as_ref().unwrap()["status"], "duplicate");
    let made = step(
        "the joiner redelivered after the move",
        older_again,
        &["UpdateItem", "GetItem"],
    )
    .await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    let late = onboard(&service, envelope("e-0", "2026-10-30T09:00:00Z", hire("Intern", &[]))).await;
    assert_eq!(late.as_ref().unwrap()["status"], "stale");
    // Its attributes are overtaken and no leave or roster decision waits on the head:
    // the claim refuses it, and the head's record filter shows it was never applied, so
    // it is stale without reading the audit trail.
    let made = step("an older hire", late, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a stale event makes no Identity Store call");

    let names: Vec<String> = (0..150).map(|i| format!("member.{i:03}")).collect();
    for name in &names {
        world.bench.user(name).await;
    }
    world.bench.count_from_now().await;
    let listed = envelope(
        "r-1",
        "2026-11-03T09:00:00Z",
        json!({ "group": { "displayName": "Everyone" }, "members": names, "mode": "add" }),
    );
    let roster = sync(&service, listed.clone()).await;
    step(
        "a roster adding 150 members",
        roster,
        &["UpdateItem", "BatchGetItem", "BatchGetItem", "TransactWriteItems"],
    )
    .await;
    let again = sync(&service, listed).await;
    assert_eq!(again.as_ref().unwrap()["status"], "duplicate");
    let made = step("its redelivery", again, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    let left = envelope("l-1", "2026-11-04T09:00:00Z", leave("revoke"));
    let leaver = offboard(&service, left.clone()).await;
    step("a leaver", leaver, &["UpdateItem", "TransactWriteItems"]).await;
    let again = offboard(&service, left.clone()).await;
    assert_eq!(again.as_ref().unwrap()["status"], "duplicate");
    let made = step("its redelivery", again, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    // The checked claim also checks the event's record: an older onboarding with groups
    // that was applied is a duplicate in that one call.
    let older_again = onboard(&service, moved).await;
    assert_eq!(older_again.as_ref().unwrap()["status"], "duplicate");
    let made = step(
        "the mover redelivered after the leave",
        older_again,
        &["TransactWriteItems"],
    )
    .await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    // The revoke took the mover's two memberships and keeps them on the head: a roster
    // newer than the re-hire may have decided one of them, so the re-hire reads their
    // groups' heads.
    let rehire = onboard(
        &service,
        envelope("e-3", "2026-11-05T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await;
    step(
        "a re-hire with a group, after a leave that took memberships",
        rehire,
        &["TransactWriteItems", "UpdateItem", "BatchGetItem", "TransactWriteItems"],
    )
    .await;
    let moved = onboard(
        &service,
        envelope("e-4", "2026-11-06T09:00:00Z", hire("Staff Engineer", &["Engineering"])),
    )
    .await;
    step("its next move", moved, &["TransactWriteItems", "TransactWriteItems"]).await;
    // Older than the leave, whose groups it took, and than the re-hire's attributes:
    // nothing is left.
    let late = onboard(
        &service,
        envelope("e-5", "2026-11-03T12:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await;
    assert_eq!(late.as_ref().unwrap()["status"], "stale");
    // The person's head, returned with the checked claim's refusal, says a newer leave
    // took every group, and its record filter that the event was never applied: no
    // claim, no group's head, no record read.
    let made = step("a late move with a group", late, &["TransactWriteItems"]).await;
    assert_eq!(made, 0, "a stale event makes no Identity Store call");
    // Older than the next move but listing a group no newer event decided: applied.
    let late = onboard(
        &service,
        envelope("e-6", "2026-11-05T12:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await;
    assert_eq!(late.as_ref().unwrap()["groups"]["added"], json!(["Platform"]));
    step(
        "a late move adding a group",
        late,
        &["TransactWriteItems", "UpdateItem", "BatchGetItem", "TransactWriteItems"],
    )
    .await;
    // Overtaken by the next move, but newer than the leave: the head cannot say whether
    // a decision the leave left waits for it, so it claims (the record filter shows it
    // was never applied: no record check) and gives the claim back.
    let late = onboard(&service, envelope("e-7", "2026-11-05T06:00:00Z", hire("Engineer", &[]))).await;
    assert_eq!(late.as_ref().unwrap()["status"], "stale");
    let made = step(
        "a late move without groups, after a leave",
        late,
        &["UpdateItem", "UpdateItem"],
    )
    .await;
    assert_eq!(made, 0, "a stale event makes no Identity Store call");
    // Leaves the head turns away: no claim; the record is read only when the filter
    // says the event may have been applied (the leaver's redelivery).
    let older = offboard(&service, envelope("l-0", "2026-11-03T18:00:00Z", leave("revoke"))).await;
    assert_eq!(older.as_ref().unwrap()["status"], "stale");
    let made = step("a leave older than the newest leave", older, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a stale event makes no Identity Store call");
    let again = offboard(&service, left.clone()).await;
    assert_eq!(again.as_ref().unwrap()["status"], "duplicate");
    let made = step(
        "the leaver redelivered after the re-hire",
        again,
        &["UpdateItem", "GetItem"],
    )
    .await;
    assert_eq!(made, 0, "a duplicate makes no Identity Store call");
    // The leaver's delete after the grace period, the person re-hired meanwhile.
    let delete = offboard(&service, envelope("l-1", "2026-11-04T09:00:00Z", leave("delete"))).await;
    assert_eq!(delete.as_ref().unwrap()["status"], "stale");
    let made = step("the delete step after a re-hire", delete, &["UpdateItem"]).await;
    assert_eq!(made, 0, "a stale event makes no Identity Store call");
    // A delete that takes memberships leaves them on the head for a re-hire to restore
    // where a newer roster decided so: the next onboarding with groups reads the heads.
    let deleted = offboard(&service, envelope("l-2", "2026-11-08T09:00:00Z", leave("delete"))).await;
    assert_eq!(deleted.as_ref().unwrap()["status"], "deleted");
    step(
        "a delete that takes memberships",
        deleted,
        &["UpdateItem", "TransactWriteItems"],
    )
    .await;
    let rehire = onboard(
        &service,
        envelope("e-8", "2026-11-09T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await;
    assert_eq!(rehire.as_ref().unwrap()["status"], "created");
    step(
        "a re-hire with a group, after that delete",
        rehire,
        &["TransactWriteItems", "UpdateItem", "BatchGetItem", "TransactWriteItems"],
    )
    .await;
    eprintln!("ledger calls per event: {figures:#?}");
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn late_events_applied_before_the_heads_record_filter_existed_are_still_duplicates() {
    let world = World::start().await;
    let (service, calls) = world.counted();
    // Each head as the version before the filter left it: no `seen`, no `seenAfter`.
    let strip = async |subject: String| {
        world
            .ledger
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(subject))
            .key("sk", AttributeValue::S("head".into()))
            .update_expression("REMOVE seen, seenAfter")
            .send()
            .await
            .unwrap();
    };
    onboard(
        &service,
        envelope("e-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    onboard(
        &service,
        envelope("e-3", "2026-11-05T09:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await
    .unwrap();
    // Older than the move: it takes the membership no newer event decided.
    let leave_late = envelope("l-2", "2026-11-03T09:00:00Z", leave("revoke"));
    let left = offboard(&service, leave_late.clone()).await.unwrap();
    assert_eq!(left["status"], "revoked", "{left}");
    world.bench.user("erin.ellis").await;
    let roster = |id: &str, time: &str, member: &str| {
        envelope(
            id,
            time,
            json!({ "group": { "displayName": "Platform" }, "members": [member], "mode": "add" }),
        )
    };
    sync(&service, roster("r-3", "2026-11-06T09:00:00Z", "dana.diaz"))
        .await
        .unwrap();
    // An add older than the group's newest roster: applied for what no newer one decided.
    let roster_late = roster("r-2", "2026-11-04T09:00:00Z", "erin.ellis");
    let added = sync(&service, roster_late.clone()).await.unwrap();
    assert_eq!(added["added"], json!(["erin.ellis"]), "{added}");
    strip(format!("user#{}", sha256_hex("dana.diaz"))).await;
    strip(format!("group#{}", sha256_hex("platform"))).await;
    calls.take();
    world.bench.count_from_now().await;

    let again = offboard(&service, leave_late).await.unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(
        calls.take(),
        ["UpdateItem", "GetItem"],
        "the head turns the leave away, and without a filter the record is read"
    );
    let again = sync(&service, roster_late.clone()).await.unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(
        calls.take(),
        ["UpdateItem", "TransactWriteItems"],
        "the claim admits the older roster, and without a filter its record is checked"
    );
    assert_eq!(world.bench.counters().await.total(), 0, "no Identity Store call");
    // The group's next finish begins its filter after the newest event it could have
    // missed, and the filter then vouches only for events newer than that.
    let group_head = async || {
        world
            .ledger
            .get_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("group#{}", sha256_hex("platform"))))
            .key("sk", AttributeValue::S("head".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap()
            .item
            .unwrap()
    };
    let newest = group_head().await["order"].clone();
    sync(&service, roster("r-4", "2026-11-07T09:00:00Z", "erin.ellis"))
        .await
        .unwrap();
    let head = group_head().await;
    assert_eq!(head.get("seenAfter"), Some(&newest), "{head:?}");
    calls.take();
    let again = sync(&service, roster_late).await.unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(
        calls.take(),
        ["UpdateItem", "TransactWriteItems"],
        "older than the filter: checked"
    );
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn an_event_of_a_person_another_event_holds_is_concurrent_modification_after_one_ledger_call() {
    let world = World::start().await;
    let (service, calls) = world.counted();
    world.bench.count_from_now().await;
    // Another event's live claim on the person, as an invocation in flight leaves it.
    world
        .ledger
        .update_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("user#{}", sha256_hex("dana.diaz"))))
        .key("sk", AttributeValue::S("head".into()))
        .update_expression("SET pending = :other, leaseUntil = :later")
        .expression_attribute_values(":other", AttributeValue::S("2026-11-08T09:00:00Z#in-flight#0".into()))
        .expression_attribute_values(":later", AttributeValue::N(i64::MAX.to_string()))
        .send()
        .await
        .unwrap();
    let busy = onboard(&service, envelope("e-5", "2026-11-07T09:00:00Z", hire("Engineer", &[]))).await;
    assert!(
        matches!(busy, Err(Error::ConcurrentModification { .. })),
        "another event holds the person: {busy:?}"
    );
    assert_eq!(
        calls.take(),
        ["UpdateItem"],
        "the refused claim returns the head: no read"
    );
    assert_eq!(world.bench.counters().await.total(), 0, "no Identity Store call");
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_stale_hire_of_a_revoked_leaver_never_applies_a_roster_the_fence_kept_out() {
    let world = World::start().await;
    let service = world.fenced_service();
    onboard(
        &service,
        envelope("hire-1", "2026-11-02T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    offboard(&service, envelope("leave-1", "2026-11-20T17:00:00Z", leave("revoke")))
        .await
        .unwrap();
    // HR still lists the leaver in a roster after the revoke: the fence keeps them out.
    let roster = sync(
        &service,
        envelope(
            "r-1",
            "2026-11-21T08:00:00Z",
            json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" }),
        ),
    )
    .await
    .unwrap();
    assert_eq!(roster["leavers"], json!(["dana.diaz"]), "{roster}");
    world.bench.count_from_now().await;

    // An older hire, redriven: nothing of it is left to apply, the roster's included.
    let late = onboard(
        &service,
        envelope("hire-0", "2026-11-01T09:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await
    .unwrap();

    assert_eq!(late["status"], "stale", "{late}");
    assert_eq!(world.bench.counters().await.total(), 0, "no Identity Store call");
    world.assert_groups("dana.diaz", &["turnstile-leavers"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_rehire_with_groups_restores_a_membership_that_a_newer_roster_gave_before_the_delete_took_it() {
    let (world, service) = deleted_after_a_newer_platform_roster().await;

    // In time order the roster came after this re-hire and added Platform: the re-hire
    // restores it, which it can only learn from the heads the delete left to read.
    rehire_and_expect_engineering_and_platform(&world, &service).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_older_than_a_leave_that_removed_nothing_after_the_rehire_does_not_add_the_person_back() {
    let (world, service) = hired_in_engineering().await;
    let rehired = onboard(
        &service,
        envelope("hire-2", "2026-11-15T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    assert_eq!(rehired["status"], "unchanged", "{rehired}");
    // The delete between the two hires, delivered after the re-hire: the re-hire listed
    // Engineering again, so nothing is left for it to remove, but it still happened.
    let deleted = offboard(&service, envelope("l-1", "2026-11-10T17:00:00Z", leave("delete")))
        .await
        .unwrap();
    assert_eq!(deleted["status"], "stale", "{deleted}");
    // A roster from before the delete, redriven last: in time order the delete took
    // this membership and the re-hire did not list it.
    let roster = json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" });
    let late = sync(&service, envelope("r-0", "2026-11-05T08:00:00Z", roster))
        .await
        .unwrap();

    assert_eq!(late["added"], json!([]), "{late}");
    world.assert_groups("dana.diaz", &["Engineering"]).await;
    // Redelivered, the delete is a duplicate: it was recorded.
    let again = offboard(&service, envelope("l-1", "2026-11-10T17:00:00Z", leave("delete")))
        .await
        .unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_rehire_still_restores_what_a_delete_took_when_a_second_termination_came_between() {
    let (world, service) = deleted_after_a_newer_platform_roster().await;
    // The HR system sends the termination again, as a new event: the newest of the
    // person's, with nothing deferred, but the memberships the delete took still wait
    // for the re-hire to decide them.
    let again = offboard(&service, envelope("l-2", "2026-11-12T17:00:00Z", leave("revoke")))
        .await
        .unwrap();
    assert_eq!(again["status"], "notFound", "{again}");

    rehire_and_expect_engineering_and_platform(&world, &service).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_rehire_with_groups_applies_a_newer_roster_kept_on_the_head_before_the_leave_it_follows() {
    let world = World::start().await;
    let service = world.fenced_service();
    hired_then_revoked(&service, "2026-11-01T09:00:00Z", ("l-1", "2026-11-05T17:00:00Z")).await;
    // Newer than the re-hire below, but delivered while the person is a marked leaver:
    // the decision waits on the person's head.
    let kept = platform_roster_on_the_20th(&service).await;
    assert_eq!(kept["leavers"], json!(["dana.diaz"]), "{kept}");
    // The delete after the grace period, delivered after the roster: the decision is
    // newer than it, so it still waits, now for the re-hire.
    let deleted = offboard(&service, envelope("l-1", "2026-11-05T17:00:00Z", leave("delete")))
        .await
        .unwrap();
    assert_eq!(deleted["status"], "deleted", "{deleted}");

    rehire_and_expect_engineering_and_platform(&world, &service).await;
}

/// dana.diaz hired into Engineering, then deleted on 2026-11-10 after a roster of the
/// 20th was delivered before the delete it follows: Platform is added to the user the
/// delete then removes.
async fn deleted_after_a_newer_platform_roster() -> (World, Service) {
    let (world, service) = hired_in_engineering().await;
    platform_roster_on_the_20th(&service).await;
    let deleted = offboard(&service, envelope("l-1", "2026-11-10T17:00:00Z", leave("delete")))
        .await
        .unwrap();
    assert_eq!(deleted["status"], "deleted", "{deleted}");
    (world, service)
}

/// A roster adding dana.diaz to Platform, at 2026-11-20T08:00Z.
async fn platform_roster_on_the_20th(service: &Service) -> Value {
    let roster = json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" });
    sync(service, envelope("r-1", "2026-11-20T08:00:00Z", roster))
        .await
        .unwrap()
}

/// Re-hires dana.diaz into Engineering on 2026-11-15, older than that roster: as in
/// time order, the person ends in Engineering and in Platform.
async fn rehire_and_expect_engineering_and_platform(world: &World, service: &Service) {
    let rehired = onboard(
        service,
        envelope("hire-2", "2026-11-15T09:00:00Z", hire("Engineer", &["Engineering"])),
    )
    .await
    .unwrap();
    assert_eq!(rehired["status"], "created", "{rehired}");
    world.assert_groups("dana.diaz", &["Engineering", "Platform"]).await;
}

/// An SQS batch event whose records carry `bodies` (message ids `m-0`, `m-1`, ...).
fn sqs_batch(bodies: &[&Value]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| json!({"messageId": format!("m-{i}"), "body": body.to_string(), "eventSource": "aws:sqs"}))
        .collect();
    json!({ "Records": records })
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn one_batch_with_a_persons_events_in_any_order_and_twice_ends_as_the_newest_left_it() {
    let world = World::start().await;
    let service = world.service();
    let update = envelope("update-1", "2026-11-10T09:00:00Z", hire("Lead", &["Engineering"]));
    let hire = envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Engineering"]));
    // Applied side by side, the three meet in the ledger; whichever waits is tried again
    // after the others, so none needs the queue to deliver it again.
    let answer = onboard(&service, sqs_batch(&[&update, &hire, &update])).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(world.title("dana.diaz").await.as_deref(), Some("Lead"));
    world.assert_groups("dana.diaz", &["Engineering"]).await;
    // Delivered again (a redrive): each is a duplicate or stale, and nothing changes.
    world.bench.count_from_now().await;
    let answer = onboard(&service, sqs_batch(&[&hire, &update])).await.unwrap();
    assert_eq!(answer, json!({ "batchItemFailures": [] }));
    assert_eq!(world.bench.counters().await.writes(), 0);
}

/// dana.diaz's hire on the 5th listing Platform is held by the emulator just before its
/// CreateGroupMembership is applied, while a `replace` of Platform that lists only
/// erin.ellis runs to the end; then the hire goes on. The hold makes the interleaving the
/// same on any machine: the replace lists the group's members before the hire's
/// membership exists, so it neither removes dana nor reads her head.
async fn hire_held_at_its_membership_while_a_replace_of_platform_runs(
    replace_at: &str,
) -> (World, Result<Value, Error>) {
    let world = World::start().await;
    let service = world.service();
    let erin = world.bench.user("erin.ellis").await;
    let platform = world.bench.group("Platform").await;
    world.bench.member(&platform, &erin).await;
    world.bench.admin.hold("CreateGroupMembership").await.unwrap();
    let hiring = onboard(
        &service,
        envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &["Platform"])),
    );
    let replacing = async {
        world.bench.admin.until_held().await.unwrap();
        let roster = json!({ "group": { "displayName": "Platform" }, "members": ["erin.ellis"] });
        let synced = sync(&service, envelope("roster-1", replace_at, roster)).await.unwrap();
        assert_eq!(synced["status"], "unchanged", "{synced}");
        world.bench.admin.release().await.unwrap();
    };
    let (hired, ()) = tokio::join!(hiring, replacing);
    (world, hired)
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_hire_whose_membership_lands_after_a_newer_replace_decided_the_group_takes_it_back_and_retries() {
    let (world, hired) = hire_held_at_its_membership_while_a_replace_of_platform_runs("2026-11-10T08:00:00Z").await;

    // In time order the replace of the 10th removes what the hire of the 5th added.
    assert!(
        matches!(hired, Err(Error::ConcurrentModification { .. })),
        "the hire must retry: {hired:?}"
    );
    assert!(world.groups_of("dana.diaz").await.is_empty());
    let service = world.service();
    let retried = onboard(
        &service,
        envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await
    .unwrap();
    assert_eq!(retried["groups"]["superseded"], json!(["Platform"]), "{retried}");
    assert!(world.groups_of("dana.diaz").await.is_empty());
    assert_eq!(world.title("dana.diaz").await.as_deref(), Some("Engineer"));
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_hire_whose_membership_lands_after_an_older_replace_decided_the_group_keeps_it() {
    let (world, hired) = hire_held_at_its_membership_while_a_replace_of_platform_runs("2026-11-01T08:00:00Z").await;

    let hired = hired.unwrap();
    assert_eq!(hired["groups"]["added"], json!(["Platform"]), "{hired}");
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_that_found_no_user_before_an_older_hire_created_them_retries_rather_than_leave_its_decision_waiting()
{
    let world = World::start().await;
    let service = world.service();
    world.bench.user("erin.ellis").await;
    world.bench.group("Platform").await;
    let roster = envelope(
        "roster-1",
        "2026-11-10T08:00:00Z",
        json!({ "group": { "displayName": "Platform" }, "members": ["erin.ellis", "dana.diaz"], "mode": "add" }),
    );
    // The roster has looked for dana.diaz (no user yet) and read her head; it is held at
    // its one write, erin.ellis's membership, while the older hire runs to its end.
    let hire = envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &[]));
    let (synced, hired) = roster_held_at_its_write_while(&world, &service, &roster, hire).await;
    assert_eq!(hired.unwrap()["status"], "created");

    // Its decision about dana.diaz would wait on her head for a hire that has already
    // run: in time order the roster of the 10th adds the person hired on the 5th.
    retried_roster_adds_dana(&world, &service, synced, roster).await;
    world.assert_groups("erin.ellis", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_that_found_a_marked_leaver_before_an_older_rehire_unmarked_them_retries() {
    let world = World::start().await;
    let service = world.fenced_service();
    hired_then_revoked(&service, "2026-11-02T09:00:00Z", ("leave-1", "2026-11-20T17:00:00Z")).await;
    world.bench.user("erin.ellis").await;
    world.bench.group("Platform").await;
    let roster = envelope(
        "roster-1",
        "2026-11-23T08:00:00Z",
        json!({ "group": { "displayName": "Platform" }, "members": ["erin.ellis", "dana.diaz"], "mode": "add" }),
    );
    // The roster has seen dana.diaz marked and read her head; it is held at erin.ellis's
    // membership while the re-hire of the 22nd takes the mark off and finishes.
    let rehire = rehire_of_the_22nd();
    let (synced, rehired) = roster_held_at_its_write_while(&world, &service, &roster, rehire).await;
    rehired.unwrap();
    assert!(
        world.groups_of("dana.diaz").await.is_empty(),
        "the re-hire took the mark off"
    );

    // In time order the re-hire comes first and the roster adds her.
    retried_roster_adds_dana(&world, &service, synced, roster).await;
}

/// `synced`, a roster of Platform listing dana.diaz, failed to be retried, and its
/// retry adds her.
async fn retried_roster_adds_dana(world: &World, service: &Service, synced: Result<Value, Error>, roster: Value) {
    assert!(
        matches!(synced, Err(Error::ConcurrentModification { .. })),
        "the roster must retry: {synced:?}"
    );
    let retried = sync(service, roster).await.unwrap();
    assert_eq!(retried["added"], json!(["dana.diaz"]), "{retried}");
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

/// Runs `roster` held at its first CreateGroupMembership while the onboarding `meanwhile`
/// runs to its end; both answers.
async fn roster_held_at_its_write_while(
    world: &World,
    service: &Service,
    roster: &Value,
    meanwhile: Value,
) -> (Result<Value, Error>, Result<Value, Error>) {
    world.bench.admin.hold("CreateGroupMembership").await.unwrap();
    let syncing = sync(service, roster.clone());
    let onboarding = async {
        world.bench.admin.until_held().await.unwrap();
        let onboarded = onboard(service, meanwhile).await;
        world.bench.admin.release().await.unwrap();
        onboarded
    };
    tokio::join!(syncing, onboarding)
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_revoke_delivered_after_a_newer_roster_leaves_its_membership_to_the_rehire_between_them() {
    let world = World::start().await;
    let service = world.fenced_service();
    onboard(
        &service,
        envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &[])),
    )
    .await
    .unwrap();
    world.bench.group("Platform").await;
    let roster = json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" });
    // HR's order: the revoke of the 20th, the re-hire of the 22nd, the roster of the
    // 23rd. Delivered: the roster first, then the revoke, then the re-hire.
    sync(&service, envelope("roster-1", "2026-11-23T08:00:00Z", roster))
        .await
        .unwrap();
    offboard(&service, envelope("leave-1", "2026-11-20T17:00:00Z", leave("revoke")))
        .await
        .unwrap();
    onboard(&service, rehire_of_the_22nd()).await.unwrap();

    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_that_would_leave_its_decision_on_a_head_an_older_hire_claimed_meanwhile_retries() {
    let world = World::start().await;
    let service = world.service();
    world.bench.user("erin.ellis").await;
    world.bench.group("Platform").await;
    // The hire of the 5th sends its claim before the roster begins, but the claim lands
    // only once the roster has looked for dana.diaz (no user) and read her head; the
    // hire's finish is held too, so its claim is in force when the roster finishes.
    let gate = Gate::arm(&["UpdateItem", "TransactWriteItems"]);
    let hiring_service = world.gated_service(&gate, false);
    let hiring = onboard(
        &hiring_service,
        envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &[])),
    );
    let roster = envelope(
        "roster-1",
        "2026-11-10T08:00:00Z",
        json!({ "group": { "displayName": "Platform" }, "members": ["erin.ellis", "dana.diaz"], "mode": "add" }),
    );
    let syncing = async {
        gate.reached().await;
        world.bench.admin.hold("CreateGroupMembership").await.unwrap();
        let synced = sync(&service, roster.clone());
        let meanwhile = async {
            world.bench.admin.until_held().await.unwrap();
            gate.open();
            gate.reached().await;
            world.bench.admin.release().await.unwrap();
        };
        let (synced, ()) = tokio::join!(synced, meanwhile);
        gate.open();
        synced
    };
    let (hired, synced) = tokio::join!(hiring, syncing);
    assert_eq!(hired.unwrap()["status"], "created");

    // The hire read her head before the roster's decision was on it, and will never
    // apply it: in time order the roster of the 10th adds the person hired on the 5th.
    retried_roster_adds_dana(&world, &service, synced, roster).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_hire_whose_deferred_membership_a_newer_roster_confirmed_meanwhile_restores_it_after_taking_it_back() {
    let world = World::start().await;
    let service = world.service();
    world.bench.group("Platform").await;
    let platform = |at, mode| {
        let roster = json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": mode });
        envelope(&format!("roster-{at}"), at, roster)
    };
    // The roster of the 10th finds no user: its decision waits on dana.diaz's head.
    let deferred = sync(&service, platform("2026-11-10T08:00:00Z", "add")).await.unwrap();
    assert_eq!(deferred["unresolved"], json!(["dana.diaz"]), "{deferred}");
    // The hire of the 5th, delivered late, applies it; its finish is held while a
    // replace of the 12th finds her already in Platform and keeps her.
    let gate = Gate::arm(&["TransactWriteItems"]);
    let hiring_service = world.gated_service(&gate, false);
    let hire = envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &[]));
    let hiring = onboard(&hiring_service, hire.clone());
    let replacing = async {
        gate.reached().await;
        let replaced = sync(&service, platform("2026-11-12T08:00:00Z", "replace")).await;
        gate.open();
        replaced
    };
    let (hired, replaced) = tokio::join!(hiring, replacing);
    assert_eq!(replaced.unwrap()["status"], "unchanged");
    // The replace decided the group after the decision the hire applied: the hire takes
    // its membership back and retries.
    assert!(
        matches!(hired, Err(Error::ConcurrentModification { .. })),
        "the hire must retry: {hired:?}"
    );
    assert!(world.groups_of("dana.diaz").await.is_empty());

    // Both rosters say she is a member: the retry restores it for the newer one.
    onboard(&service, hire).await.unwrap();
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_roster_that_takes_back_the_add_of_a_person_marked_meanwhile_retries_and_leaves_its_decision_to_the_rehire() {
    let world = World::start().await;
    let service = world.fenced_service();
    world.bench.group("turnstile-leavers").await;
    world.bench.group("Platform").await;
    // HR's order: the hire of the 5th, the revoke of the 20th, the re-hire of the 22nd,
    // the roster of the 23rd. The revoke comes first and finds no user.
    let revoked = offboard(&service, envelope("leave-1", "2026-11-20T17:00:00Z", leave("revoke")))
        .await
        .unwrap();
    assert_eq!(revoked["status"], "notFound", "{revoked}");
    // The hire creates her and, the revoke being newer, marks her; it is held at the
    // mark while the roster finds her unmarked, then finishes before the roster reads
    // her head and adds her. The roster's check of the marks after its adds takes the
    // membership back.
    world.bench.admin.hold("CreateGroupMembership").await.unwrap();
    let hiring = onboard(
        &service,
        envelope("hire-1", "2026-11-05T09:00:00Z", hire("Engineer", &[])),
    );
    let gate = Gate::arm(&["BatchGetItem"]);
    let syncing_service = world.gated_service(&gate, true);
    let roster = envelope(
        "roster-1",
        "2026-11-23T08:00:00Z",
        json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" }),
    );
    let syncing = async {
        world.bench.admin.until_held().await.unwrap();
        let synced = sync(&syncing_service, roster.clone());
        let meanwhile = async {
            gate.reached().await;
            world.bench.admin.release().await.unwrap();
        };
        tokio::join!(synced, meanwhile).0
    };
    let hired_then_opened = async {
        let hired = hiring.await;
        gate.open();
        hired
    };
    let (hired, synced) = tokio::join!(hired_then_opened, syncing);
    assert_eq!(hired.unwrap()["status"], "created");
    assert!(world.groups_of("dana.diaz").await.contains("turnstile-leavers"));

    // The roster saw her unmarked, so it kept no decision for her re-hire: it retries,
    // finds her marked, and leaves the decision on her head.
    assert!(
        matches!(synced, Err(Error::ConcurrentModification { .. })),
        "the roster must retry: {synced:?}"
    );
    let retried = sync(&service, roster).await.unwrap();
    assert_eq!(retried["leavers"], json!(["dana.diaz"]), "{retried}");
    // In time order the re-hire of the 22nd takes the mark off and the roster of the
    // 23rd adds her.
    onboard(&service, rehire_of_the_22nd()).await.unwrap();
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_leave_older_than_the_rehire_puts_back_a_membership_a_newer_roster_kept_while_it_was_removed() {
    let world = World::start().await;
    let service = world.service();
    // HR's order: the hire of the 1st into Platform, the revoke of the 20th, the
    // re-hire of the 22nd, a roster of Platform on the 23rd that lists her.
    let hired = onboard(
        &service,
        envelope("hire-1", "2026-11-01T09:00:00Z", hire("Engineer", &["Platform"])),
    )
    .await
    .unwrap();
    assert_eq!(hired["status"], "created");
    onboard(&service, rehire_of_the_22nd()).await.unwrap();
    // The revoke arrives late: it reads Platform's head (no newer decision yet) and is
    // held at its removal while the roster finds her a member, keeps her and finishes.
    world.bench.admin.hold("DeleteGroupMembership").await.unwrap();
    let leave = envelope("leave-1", "2026-11-20T17:00:00Z", leave("revoke"));
    let leaving = offboard(&service, leave.clone());
    let roster = json!({ "group": { "displayName": "Platform" }, "members": ["dana.diaz"], "mode": "add" });
    let syncing = async {
        world.bench.admin.until_held().await.unwrap();
        let synced = sync(&service, envelope("roster-1", "2026-11-23T08:00:00Z", roster)).await;
        world.bench.admin.release().await.unwrap();
        synced
    };
    let (left, synced) = tokio::join!(leaving, syncing);
    assert_eq!(synced.unwrap()["status"], "unchanged");

    // In time order the roster of the 23rd comes after the revoke: she is in Platform.
    assert!(
        matches!(left, Err(Error::ConcurrentModification { .. })),
        "the leave must retry: {left:?}"
    );
    world.assert_groups("dana.diaz", &["Platform"]).await;
    let retried = offboard(&service, leave).await.unwrap();
    assert_eq!(retried["status"], "stale", "{retried}");
    world.assert_groups("dana.diaz", &["Platform"]).await;
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn a_second_delivery_of_an_event_being_applied_waits_for_the_first_and_is_then_a_duplicate() {
    let world = World::start().await;
    let service = world.service();
    // SQS delivers at least once: the same hire twice, side by side. The first is held
    // at its finish (its second transaction, after the checked claim), its memberships
    // written.
    let gate = Gate::arm(&["TransactWriteItems", "TransactWriteItems"]);
    let first_service = world.gated_service(&gate, false);
    let hire = envelope(
        "hire-1",
        "2026-11-05T09:00:00Z",
        hire("Engineer", &["Platform", "Data"]),
    );
    let first = onboard(&first_service, hire.clone());
    let second = async {
        gate.reached().await;
        gate.open();
        gate.reached().await;
        let second = onboard(&service, hire.clone()).await;
        gate.open();
        second
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap()["status"], "created");
    // Applied side by side, the two would each decide and write; one's taking back of a
    // membership could then undo what the other found and recorded.
    assert!(
        matches!(second, Err(Error::ConcurrentModification { .. })),
        "the second delivery must wait: {second:?}"
    );
    let retried = onboard(&service, hire).await.unwrap();
    assert_eq!(retried["status"], "duplicate", "{retried}");
    world.assert_groups("dana.diaz", &["Data", "Platform"]).await;
}
