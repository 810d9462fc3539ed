//! Differential conformance: the same sequence of calls, byte for byte, against the
//! emulator and against moto's independent Identity Store (`moto_server` from
//! `.venv/`, started on 127.0.0.1 and stopped after). Outcomes must agree (success or
//! error code, and the fields returned) except where moto itself departs from the API
//! reference; those departures are named in [`MOTO_DEVIATIONS`], and a listed
//! departure that stops happening fails the test too, so the list stays true.
//!
//! UpdateUser and UpdateGroup are not in the sequence: moto does not implement them.

// One scenario, read top to bottom; its summary is printed for the test log.
#![allow(clippy::too_many_lines, clippy::print_stdout)]

mod support;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use turnstile_emulator::admin::{Admin, Reply};
use turnstile_emulator::moto::Moto;
use turnstile_emulator::{Emulator, Options};

/// Where moto departs from the API reference, by step: (step, what differs, why the
/// emulator's answer is the reference's).
const MOTO_DEVIATIONS: &[(&str, &str)] = &[
    (
        SERVICE_MANAGED,
        "moto omits UserArn, GroupArn, MembershipArn and Revision from its answers; the current API model marks them required (CreateUser, GetUserId, DescribeUser, CreateGroup, GetGroupId, DescribeGroup, CreateGroupMembership, DescribeGroupMembership, and the listed User, Group and GroupMembership items)",
    ),
    (
        "duplicate membership",
        "moto creates a second membership for the same (group, member) pair; the reference says CreateGroupMembership fails with ConflictException when the requested change would violate a uniqueness claim",
    ),
    (
        HR_UNASKED,
        "moto 5.2 drops Photos, Website, Birthdate and Roles: it accepts them on CreateUser and DescribeUser returns none of them; the current API model has all four on CreateUser, DescribeUser and ListUsers",
    ),
    (
        HR_ASKED,
        "moto 5.2 also drops CreateUser's Extensions and ignores DescribeUser's Extensions, so the enterprise extension never comes back; the model returns the asked extensions (aws:identitystore:enterprise is the only one)",
    ),
    (
        HR_UNKNOWN,
        "moto 5.2 ignores DescribeUser's Extensions, so a name other than aws:identitystore:enterprise succeeds; the model documents it as the only supported extension name, which the emulator refuses as a ValidationException",
    ),
    (
        "list members after removal",
        "follows from the duplicate membership above: moto still lists the second membership after the first is deleted",
    ),
];

/// The steps about the attributes of the newer model (photos, roles, extensions).
const HR_UNASKED: &str = "describe a user with every attribute";
const HR_ASKED: &str = "describe it with the enterprise extension";
const HR_UNKNOWN: &str = "describe it with an unknown extension";

/// The member-level deviation, checked on every answer rather than one step.
const SERVICE_MANAGED: &str = "service-managed members";
const SERVICE_MANAGED_MEMBERS: [&str; 4] = ["UserArn", "GroupArn", "MembershipArn", "Revision"];

/// Removes from `ours` the service-managed members that `theirs` lacks, at the same
/// place; returns whether any were missing.
fn drop_missing_service_members(ours: &mut Value, theirs: &Value) -> bool {
    let mut missing = false;
    match (ours, theirs) {
        (Value::Object(a), Value::Object(b)) => {
            for key in SERVICE_MANAGED_MEMBERS {
                if a.contains_key(key) && !b.contains_key(key) {
                    a.remove(key);
                    missing = true;
                }
            }
            for (key, value) in a.iter_mut() {
                if let Some(other) = b.get(key) {
                    missing |= drop_missing_service_members(value, other);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for (x, y) in a.iter_mut().zip(b) {
                missing |= drop_missing_service_members(x, y);
            }
        }
        _ => {}
    }
    missing
}

/// One server, with the ids its answers gave so far under symbolic names.
struct Side {
    admin: Admin,
    ids: BTreeMap<String, String>,
}

impl Side {
    /// `{{name}}` placeholders become this server's ids.
    fn render(&self, template: &Value) -> Value {
        let mut text = template.to_string();
        for (name, id) in &self.ids {
            text = text.replace(&format!("{{{{{name}}}}}"), id);
        }
        serde_json::from_str(&text).expect("rendered JSON")
    }

    async fn call(&self, operation: &str, body: &Value) -> Reply {
        // moto_server picks the service from the credential scope; the emulator ignores it.
        let target = format!("AWSIdentityStore.{operation}");
        self.admin
            .request(
                "POST",
                "/",
                &[
                    ("Content-Type", "application/x-amz-json-1.1"),
                    ("X-Amz-Target", &target),
                    (
                        "Authorization",
                        "AWS4-HMAC-SHA256 Credential=test/20261130/eu-west-1/identitystore/aws4_request, SignedHeaders=host, Signature=0",
                    ),
                ],
                body.to_string().as_bytes(),
            )
            .await
            .expect("the server answers")
    }

    /// The answer in comparable form: the error code, or the body with this server's
    /// ids turned back into their names and volatile members dropped.
    fn normalise(&self, reply: &Reply) -> Value {
        if reply.status != 200 {
            let body = reply.json();
            let code = body["__type"]
                .as_str()
                .unwrap_or_default()
                .rsplit('#')
                .next()
                .unwrap_or_default()
                .to_owned();
            return json!({ "error": code });
        }
        let mut text = reply.body.clone();
        for (name, id) in &self.ids {
            text = text.replace(id.as_str(), &format!("{{{{{name}}}}}"));
        }
        let mut value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        strip(&mut value);
        value
    }
}

/// Drops what carries no meaning in the comparison: timestamps and other volatile
/// members, null members (absent, in AWS JSON), empty ExternalIds (the SDK reads absent
/// as empty), and the value of NextToken (opaque).
fn strip(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, v| !(v.is_null() || key == "ExternalIds" && v.as_array().is_some_and(Vec::is_empty)));
            for key in [
                "CreatedAt",
                "UpdatedAt",
                "CreatedBy",
                "UpdatedBy",
                "UserStatus",
                "IdentityStoreId",
            ] {
                map.remove(key);
            }
            if map.contains_key("NextToken") {
                map.insert("NextToken".into(), json!("<token>"));
            }
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// A step: a name, an operation, a body with `{{id}}` placeholders, and optionally a
/// response member to remember under a name.
struct Step {
    name: &'static str,
    operation: &'static str,
    body: Value,
    capture: Option<(&'static str, &'static str)>,
}

fn step(name: &'static str, operation: &'static str, body: Value) -> Step {
    Step {
        name,
        operation,
        body,
        capture: None,
    }
}

fn capture(
    name: &'static str,
    operation: &'static str,
    body: Value,
    member: &'static str,
    as_name: &'static str,
) -> Step {
    Step {
        name,
        operation,
        body,
        capture: Some((member, as_name)),
    }
}

fn user(name: &str) -> Value {
    json!({
        "IdentityStoreId": "{{store}}",
        "UserName": name,
        "DisplayName": format!("{name} display"),
        "Name": { "GivenName": "Given", "FamilyName": "Family" },
        "Emails": [{ "Value": format!("{name}@example.com"), "Type": "work", "Primary": true }],
        "Title": "Engineer",
        "Locale": "en-GB"
    })
}

/// A user with every attribute of the current model, the enterprise extension too.
fn user_with_every_attribute(name: &str) -> Value {
    let mut body = user(name);
    body.as_object_mut().unwrap().extend(
        json!({
            "Website": "https://example.com",
            "Birthdate": "1990-01-31",
            "Photos": [{ "Value": "https://example.com/a.jpg", "Type": "photo", "Display": "Badge", "Primary": true }],
            "Roles": [{ "Value": "Engineer", "Type": "work", "Primary": true }],
            "Extensions": { "aws:identitystore:enterprise": { "department": "Engineering", "costCenter": "CC-1" } }
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    body
}

fn by_user_name(name: &str) -> Value {
    json!({ "IdentityStoreId": "{{store}}", "AlternateIdentifier": { "UniqueAttribute": { "AttributePath": "userName", "AttributeValue": name } } })
}

fn sequence() -> Vec<Step> {
    let store = json!({ "IdentityStoreId": "{{store}}" });
    let with = |extra: Value| {
        let mut body = store.clone();
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        body
    };
    vec![
        capture("create alice", "CreateUser", user("alice"), "UserId", "alice"),
        step("duplicate user", "CreateUser", user("alice")),
        capture("create bob", "CreateUser", user("bob"), "UserId", "bob"),
        step("describe alice", "DescribeUser", with(json!({ "UserId": "{{alice}}" }))),
        step("find alice", "GetUserId", by_user_name("alice")),
        step("find nobody", "GetUserId", by_user_name("nobody")),
        step("list users, page of one", "ListUsers", with(json!({ "MaxResults": 1 }))),
        step("list users", "ListUsers", store.clone()),
        capture(
            "create group",
            "CreateGroup",
            with(json!({ "DisplayName": "Engineering", "Description": "Builders" })),
            "GroupId",
            "eng",
        ),
        step(
            "duplicate group",
            "CreateGroup",
            with(json!({ "DisplayName": "Engineering" })),
        ),
        step(
            "find group",
            "GetGroupId",
            with(
                json!({ "AlternateIdentifier": { "UniqueAttribute": { "AttributePath": "displayName", "AttributeValue": "Engineering" } } }),
            ),
        ),
        step("describe group", "DescribeGroup", with(json!({ "GroupId": "{{eng}}" }))),
        step("list groups", "ListGroups", store.clone()),
        capture(
            "add alice",
            "CreateGroupMembership",
            with(json!({ "GroupId": "{{eng}}", "MemberId": { "UserId": "{{alice}}" } })),
            "MembershipId",
            "m_alice",
        ),
        step(
            "duplicate membership",
            "CreateGroupMembership",
            with(json!({ "GroupId": "{{eng}}", "MemberId": { "UserId": "{{alice}}" } })),
        ),
        step(
            "find membership",
            "GetGroupMembershipId",
            with(json!({ "GroupId": "{{eng}}", "MemberId": { "UserId": "{{bob}}" } })),
        ),
        step(
            "describe membership",
            "DescribeGroupMembership",
            with(json!({ "MembershipId": "{{m_alice}}" })),
        ),
        step(
            "is bob a member",
            "IsMemberInGroups",
            with(json!({ "MemberId": { "UserId": "{{bob}}" }, "GroupIds": ["{{eng}}"] })),
        ),
        step(
            "list bob's memberships",
            "ListGroupMembershipsForMember",
            with(json!({ "MemberId": { "UserId": "{{bob}}" } })),
        ),
        step(
            "remove alice",
            "DeleteGroupMembership",
            with(json!({ "MembershipId": "{{m_alice}}" })),
        ),
        step(
            "list members after removal",
            "ListGroupMemberships",
            with(json!({ "GroupId": "{{eng}}" })),
        ),
        capture(
            "create a user with every attribute",
            "CreateUser",
            user_with_every_attribute("dana"),
            "UserId",
            "dana",
        ),
        step(HR_UNASKED, "DescribeUser", with(json!({ "UserId": "{{dana}}" }))),
        step(
            HR_ASKED,
            "DescribeUser",
            with(json!({ "UserId": "{{dana}}", "Extensions": ["aws:identitystore:enterprise"] })),
        ),
        step(
            HR_UNKNOWN,
            "DescribeUser",
            with(json!({ "UserId": "{{dana}}", "Extensions": ["aws:identitystore:other"] })),
        ),
        step("delete bob", "DeleteUser", with(json!({ "UserId": "{{bob}}" }))),
        step(
            "describe deleted bob",
            "DescribeUser",
            with(json!({ "UserId": "{{bob}}" })),
        ),
        step("delete group", "DeleteGroup", with(json!({ "GroupId": "{{eng}}" }))),
        step(
            "describe deleted group",
            "DescribeGroup",
            with(json!({ "GroupId": "{{eng}}" })),
        ),
    ]
}

#[tokio::test]
#[ignore = "needs moto_server from ./scripts/bootstrap.sh; run by ./scripts/test.sh"]
async fn the_emulator_agrees_with_moto_except_where_moto_departs_from_the_reference() {
    let emulator = Emulator::start(Options::default()).await.expect("emulator");
    let moto = Moto::start().await;
    let mut sides = [
        Side {
            admin: Admin::new(emulator.addr),
            ids: BTreeMap::from([("store".into(), "d-1234567890".into())]),
        },
        Side {
            admin: Admin::new(moto.addr),
            ids: BTreeMap::from([("store".into(), "d-1234567890".into())]),
        },
    ];

    let mut differences: BTreeMap<&str, (Value, Value)> = BTreeMap::new();
    let mut compared = 0;
    for step in sequence() {
        let mut answers = Vec::new();
        for side in &mut sides {
            let reply = side.call(step.operation, &side.render(&step.body)).await;
            if let (Some((member, name)), 200) = (step.capture, reply.status) {
                if let Some(id) = reply.json()[member].as_str() {
                    side.ids.insert(name.to_owned(), id.to_owned());
                }
            }
            answers.push(side.normalise(&reply));
        }
        compared += 1;
        let moto_answer = answers.pop().expect("two answers");
        let mut emulator_answer = answers.pop().expect("two answers");
        if drop_missing_service_members(&mut emulator_answer, &moto_answer) {
            differences.insert(SERVICE_MANAGED, (json!(SERVICE_MANAGED_MEMBERS), json!("absent")));
        }
        if emulator_answer != moto_answer {
            differences.insert(step.name, (emulator_answer, moto_answer));
        }
    }
    drop(moto);

    println!(
        "conformance: {compared} steps compared, {} known moto deviation(s):",
        MOTO_DEVIATIONS.len()
    );
    for (name, why) in MOTO_DEVIATIONS {
        println!("  - {name}: {why}");
    }
    let unexplained: Vec<String> = differences
        .iter()
        .filter(|(name, _)| !MOTO_DEVIATIONS.iter().any(|(known, _)| known == *name))
        .map(|(name, (ours, theirs))| format!("{name}:\n  emulator: {ours}\n  moto:     {theirs}"))
        .collect();
    let vanished: Vec<&str> = MOTO_DEVIATIONS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !differences.contains_key(name))
        .collect();
    assert!(
        unexplained.is_empty(),
        "unexplained differences:\n{}",
        unexplained.join("\n")
    );
    assert!(
        vanished.is_empty(),
        "listed deviations no longer seen (moto fixed them?): {vanished:?}"
    );
    emulator.stop().await;
}
