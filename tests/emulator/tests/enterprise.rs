//! The HR attributes end to end: onboard-user's domain service against the emulator
//! in-process, read back through the SDK, with the calls counted; and the emulator's
//! own rules for the enterprise extension.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::types::AttributeOperation;
use aws_smithy_types::Document;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};
use turnstile::{Deadline, OnboardRequest, OnboardResult, Service};

mod support;
use support::fixture;
use support::store::{Bench, STORE};

const ENTERPRISE: &str = "aws:identitystore:enterprise";

async fn onboard(service: &Service, event: Value) -> OnboardResult {
    let request: OnboardRequest = turnstile::decode(event).expect("a valid request");
    service
        .onboard(Deadline::unbounded(), request)
        .await
        .expect("onboarded")
}

async fn id_of(client: &Client, user_name: &str) -> String {
    client
        .get_user_id()
        .identity_store_id(STORE)
        .alternate_identifier(aws_sdk_identitystore::types::AlternateIdentifier::UniqueAttribute(
            aws_sdk_identitystore::types::UniqueAttribute::builder()
                .attribute_path("userName")
                .attribute_value(Document::String(user_name.into()))
                .build()
                .unwrap(),
        ))
        .send()
        .await
        .expect("the user exists")
        .user_id
}

/// The user's enterprise extension as DescribeUser returns it when asked, as JSON.
async fn enterprise(client: &Client, user_id: &str) -> Value {
    let described = client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(user_id)
        .extensions(ENTERPRISE)
        .send()
        .await
        .unwrap();
    described
        .extensions()
        .and_then(|e| e.get(ENTERPRISE))
        .map_or(Value::Null, json_of)
}

fn json_of(document: &Document) -> Value {
    match document {
        Document::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), json_of(v))).collect()),
        Document::Array(items) => Value::Array(items.iter().map(json_of).collect()),
        Document::String(s) => json!(s),
        Document::Bool(b) => json!(b),
        Document::Null => Value::Null,
        Document::Number(_) => panic!("the extension holds no numbers"),
    }
}

#[tokio::test]
async fn a_joiner_with_every_attribute_is_stored_with_each_and_the_extension_only_when_asked() {
    let bench = Bench::start().await;
    let alice = bench.user("alice.archer").await;
    let service = bench.service(|_| {});
    bench.count_from_now().await;

    let result = onboard(&service, fixture("onboard-user/joiner.every-attribute.json")).await;

    assert_eq!(result.status, turnstile::OnboardStatus::Created);
    assert!(result.unresolved.is_empty());
    let counters = bench.counters().await;
    // The joiner's budget (1 + 2G, G = 2 groups created here: + G CreateGroup), plus the
    // manager's one GetUserId.
    assert!(counters.total() <= 1 + 3 * 2 + 1, "{counters:?}");
    let dana = result.user_id.expect("created");
    let plain = bench
        .client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&dana)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.extensions(), None, "the extension came back unasked");
    assert_eq!(plain.website(), Some("https://dana.example.com"));
    assert_eq!(plain.birthdate(), Some("1988-02-29"));
    assert_eq!(plain.photos().len(), 2);
    assert_eq!(plain.roles()[0].value(), Some("Account Executive"));
    assert_eq!(
        enterprise(&bench.client, &dana).await,
        json!({
            "employeeNumber": "E-10442", "costCenter": "CC-4100", "organization": "Example Corp",
            "division": "Commercial", "department": "Sales", "manager": { "value": alice }
        })
    );

    // ListUsers answers the same way: the extension only when asked.
    let list = |asked: bool| {
        bench
            .client
            .list_users()
            .identity_store_id(STORE)
            .set_extensions(asked.then(|| vec![ENTERPRISE.to_owned()]))
            .send()
    };
    let listed = list(false).await.unwrap();
    assert!(listed.users().iter().all(|u| u.extensions().is_none()));
    let listed = list(true).await.unwrap();
    let dana_listed = listed.users().iter().find(|u| u.user_id() == dana).unwrap();
    assert_eq!(
        dana_listed.extensions().and_then(|e| e.get(ENTERPRISE)).map(json_of),
        Some(enterprise(&bench.client, &dana).await)
    );

    // The same event again writes nothing.
    bench.count_from_now().await;
    let again = onboard(&service, fixture("onboard-user/joiner.every-attribute.json")).await;
    assert_eq!(again.status, turnstile::OnboardStatus::Unchanged);
    assert_eq!(bench.counters().await.writes(), 0);
}

#[tokio::test]
async fn a_department_move_reaches_the_extension_with_one_update_and_keeps_what_it_leaves_out() {
    let bench = Bench::start().await;
    let alice = bench.user("alice.archer").await;
    let service = bench.service(|_| {});
    let joined = onboard(&service, fixture("onboard-user/joiner.every-attribute.json")).await;
    let dana = joined.user_id.unwrap();
    bench.count_from_now().await;

    let moved = onboard(&service, fixture("onboard-user/department-move.json")).await;

    assert_eq!(moved.status, turnstile::OnboardStatus::Updated);
    assert_eq!(moved.updated_attributes, ["title", "enterprise"]);
    let counters = bench.counters().await;
    // CreateUser (a conflict), GetUserId twice (the user, the manager), DescribeUser,
    // UpdateUser; then the one group: GetGroupId, CreateGroup, CreateGroupMembership.
    assert_eq!(counters.calls("UpdateUser"), 1, "{counters:?}");
    assert_eq!(counters.calls("DescribeUser"), 1, "{counters:?}");
    assert!(counters.total() <= 5 + 3, "{counters:?}");
    assert_eq!(
        enterprise(&bench.client, &dana).await,
        json!({
            "employeeNumber": "E-10442", "costCenter": "CC-2200", "organization": "Example Corp",
            "division": "Commercial", "department": "Engineering", "manager": { "value": alice }
        })
    );
}

#[tokio::test]
async fn a_manager_who_joins_after_the_report_is_unresolved_then_converged_by_a_later_event() {
    let bench = Bench::start().await;
    let service = bench.service(|_| {});

    let first = onboard(&service, fixture("onboard-user/report-before-manager.json")).await;

    assert_eq!(first.status, turnstile::OnboardStatus::Created);
    assert_eq!(first.unresolved, ["frank.fox"]);
    let erin = first.user_id.unwrap();
    assert_eq!(
        enterprise(&bench.client, &erin).await,
        json!({ "employeeNumber": "E-10517", "department": "Engineering" })
    );

    let frank = bench.user("frank.fox").await;
    let later = onboard(&service, fixture("onboard-user/report-before-manager.json")).await;

    assert_eq!(later.status, turnstile::OnboardStatus::Updated);
    assert!(later.unresolved.is_empty());
    assert_eq!(later.updated_attributes, ["enterprise"]);
    assert_eq!(
        enterprise(&bench.client, &erin).await["manager"],
        json!({ "value": frank })
    );
    assert_eq!(id_of(&bench.client, "erin.evans").await, erin);
}

fn operation(path: &str, value: Option<Document>) -> AttributeOperation {
    AttributeOperation::builder()
        .attribute_path(path)
        .set_attribute_value(value)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_emulator_updates_one_enterprise_member_by_its_path_and_refuses_every_other_form() {
    let bench = Bench::start().await;
    let user = bench.user("gus.grey").await;
    let update = |op: AttributeOperation| {
        bench
            .client
            .update_user()
            .identity_store_id(STORE)
            .user_id(&user)
            .operations(op)
            .send()
    };
    let department = || Some(Document::String("Finance".into()));

    update(operation("aws:identitystore:enterprise.department", department()))
        .await
        .expect("the member's path is the form the emulator takes");
    assert_eq!(
        enterprise(&bench.client, &user).await,
        json!({ "department": "Finance" })
    );

    let refused = [
        operation(
            ENTERPRISE,
            Some(Document::Object(
                [("department".into(), Document::String("X".into()))].into(),
            )),
        ),
        operation(
            "aws:identitystore:enterprise.manager.value",
            Some(Document::String("u".into())),
        ),
        operation("aws:identitystore:other.department", department()),
        operation("aws:identitystore:enterprise.favouriteColour", department()),
        operation(
            "aws:identitystore:enterprise.manager",
            Some(Document::String("u".into())),
        ),
        operation(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            department(),
        ),
        operation("extensions.department", department()),
    ];
    for op in refused {
        let path = op.attribute_path().to_owned();
        let error = update(op).await.expect_err(&path);
        assert!(
            error.into_service_error().is_validation_exception(),
            "{path} was not a ValidationException"
        );
    }
    // Removing a member takes it away.
    update(operation("aws:identitystore:enterprise.department", None))
        .await
        .unwrap();
    assert_eq!(enterprise(&bench.client, &user).await, Value::Null);

    // Asking for an extension the service does not have is refused too.
    let error = bench
        .client
        .describe_user()
        .identity_store_id(STORE)
        .user_id(&user)
        .extensions("aws:identitystore:other")
        .send()
        .await
        .expect_err("an unknown extension");
    assert!(error.into_service_error().is_validation_exception());
}

#[tokio::test]
async fn the_emulator_checks_create_users_extensions_with_the_models_limits() {
    let bench = Bench::start().await;
    let create = |extensions: Document| {
        let Document::Object(map) = extensions else {
            unreachable!()
        };
        bench
            .client
            .create_user()
            .identity_store_id(STORE)
            .user_name("hal.hunt")
            .display_name("Hal Hunt")
            .name(
                aws_sdk_identitystore::types::Name::builder()
                    .given_name("Hal")
                    .family_name("Hunt")
                    .build(),
            )
            .set_extensions(Some(map))
            .send()
    };
    let object = |pairs: &[(&str, Document)]| {
        Document::Object(pairs.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect())
    };
    let text = |s: &str| Document::String(s.into());
    let bad = [
        object(&[("aws:identitystore:other", object(&[("department", text("X"))]))]),
        object(&[(ENTERPRISE, object(&[("department", text(""))]))]),
        object(&[(ENTERPRISE, object(&[("department", text(&"x".repeat(1025)))]))]),
        object(&[(ENTERPRISE, object(&[("manager", text("user-id"))]))]),
        object(&[(ENTERPRISE, object(&[("nickname", text("X"))]))]),
        object(&[(ENTERPRISE, text("Sales"))]),
    ];
    for extensions in bad {
        let error = create(extensions.clone()).await.expect_err(&format!("{extensions:?}"));
        assert!(error.into_service_error().is_validation_exception(), "{extensions:?}");
    }
    let created = create(object(&[(
        ENTERPRISE,
        object(&[
            ("department", text("Sales")),
            ("manager", object(&[("value", text("u-1"))])),
        ]),
    )]))
    .await
    .expect("a valid extension");
    assert_eq!(
        enterprise(&bench.client, &created.user_id).await,
        json!({ "department": "Sales", "manager": { "value": "u-1" } })
    );
}
