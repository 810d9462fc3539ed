//! Bad input: every malformed fixture under `tests/fixtures/invalid/` fails as
//! `InvalidEvent` through the function's own handler path, with zero SDK calls.

use std::path::Path;

use turnstile::testing::{self, every_operation, total_calls};
use turnstile::{Error, Function, OffboardRequest, OnboardRequest, Service, SyncRequest};

/// The function's own path from a decoded payload on, without the runtime's context.
async fn run(service: &Service, function: Function, event: serde_json::Value) -> Result<(), Error> {
    let event = lambda_runtime::LambdaEvent::new(
        serde_json::value::RawValue::from_string(event.to_string()).unwrap(),
        testing::context(std::time::Duration::from_secs(60)),
    );
    turnstile::handle_function(function, service, event).await.map(drop)
}

#[tokio::test]
async fn every_malformed_event_is_invalid_event_and_makes_no_call() {
    let rules = every_operation();
    let rule_refs: Vec<_> = rules.iter().collect();
    let service = testing::service(&rule_refs);
    let root = testing::fixtures_dir().join("invalid");
    let mut checked = 0;
    for function in Function::ALL {
        let folder = function.name();
        let mut files: Vec<_> = std::fs::read_dir(root.join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let event = testing::fixture(&Path::new("invalid").join(folder).join(&name).to_string_lossy());
            let error = run(&service, function, event).await.expect_err(&name);
            assert_eq!(error.error_type(), "InvalidEvent", "{folder}/{name}: {error}");
            // The message names fields, never the values in them.
            for value in [
                "alice.archer@example.com",
                "Alice\u{7}Archer",
                "archive",
                "merge",
                "1988-02-30",
                "29/02/1988",
                "frank fox",
            ] {
                assert!(
                    !error.to_string().contains(value),
                    "{folder}/{name} echoes a value: {error}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} malformed fixtures");
    assert_eq!(total_calls(&rules), 0);
}

#[test]
fn messages_name_the_offending_field() {
    let cases = [
        (
            serde_json::json!({ "userName": "" }),
            "userName: must be 1 to 128 characters",
        ),
        (serde_json::json!({ "mode": "delete" }), "missing field `userName`"),
        (
            serde_json::json!({ "userName": "a", "mode": "archive" }),
            "mode: unknown variant, expected `delete` or `revoke`",
        ),
        (
            serde_json::json!({ "userName": 42 }),
            "userName: invalid type: integer, expected a string",
        ),
    ];
    for (event, expected) in cases {
        let error = turnstile::decode::<OffboardRequest>(event).unwrap_err();
        assert_eq!(error, Error::InvalidEvent(expected.into()));
    }
}

#[test]
fn unknown_fields_are_ignored_and_null_optionals_are_absent() {
    let request: SyncRequest = turnstile::decode(serde_json::json!({
        "group": { "displayName": "Engineering", "description": null, "colour": "blue" },
        "members": ["alice.archer"],
        "mode": null,
        "dryRun": null,
        "schemaVersion": 3
    }))
    .unwrap();
    assert_eq!(request.group.description, None);
    assert_eq!(request.mode, turnstile::SyncMode::Replace);
    assert!(!request.dry_run);
}

#[test]
fn both_event_forms_decode_to_the_same_request() {
    for (bare, envelope) in [
        ("onboard-user/joiner.json", "onboard-user/joiner.envelope.json"),
        ("onboard-user/mover.json", "onboard-user/mover.envelope.json"),
    ] {
        let a: OnboardRequest = turnstile::decode(testing::fixture(bare)).unwrap();
        let b: OnboardRequest = turnstile::decode(testing::fixture(envelope)).unwrap();
        assert_eq!(a, b);
    }
    let a: SyncRequest = turnstile::decode(testing::fixture("sync-group/replace.json")).unwrap();
    let b: SyncRequest = turnstile::decode(testing::fixture("sync-group/replace.envelope.json")).unwrap();
    assert_eq!(a, b);
}

#[test]
fn the_example_events_decode_and_the_bad_one_does_not() {
    let events = testing::fixtures_dir().join("../../events");
    for entry in std::fs::read_dir(&events).unwrap() {
        let path = entry.unwrap().path();
        let event: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // An SQS batch example carries its requests as its records' bodies.
        let requests: Vec<serde_json::Value> = if name.contains(".sqs.") {
            let records = event["Records"].as_array().expect("an SQS batch has Records");
            assert!(!records.is_empty(), "{name}");
            records
                .iter()
                .map(|r| serde_json::from_str(r["body"].as_str().expect("a body")).expect("a JSON body"))
                .collect()
        } else {
            vec![event]
        };
        for request in requests {
            let ok = if name.starts_with("onboard-user") {
                turnstile::decode::<OnboardRequest>(request).is_ok()
            } else if name.starts_with("offboard-user") {
                turnstile::decode::<OffboardRequest>(request).is_ok()
            } else {
                turnstile::decode::<SyncRequest>(request).is_ok()
            };
            // The demo's bad event must fail like any other malformed one.
            assert_eq!(ok, !name.contains(".invalid."), "{name}");
        }
    }
}

/// What lambda_runtime 1.5 does with the payload before the handler sees it.
fn as_the_runtime_reads_it(body: &[u8]) -> Result<Box<serde_json::value::RawValue>, String> {
    let deserializer = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(deserializer).map_err(|e| e.to_string())
}

#[test]
fn a_payload_nested_past_serde_jsons_limit_reaches_the_handler_and_is_invalid_event() {
    let depth = 10_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let raw = as_the_runtime_reads_it(deep.as_bytes()).expect("the runtime hands the raw payload over");
    let error = turnstile::decode_json::<OnboardRequest>(raw.get()).unwrap_err();
    assert_eq!(error.error_type(), "InvalidEvent");
    assert!(error.to_string().contains("recursion limit"), "{error}");

    let nested_object = format!("{}{}", "{\"a\":".repeat(depth), "1".to_owned() + &"}".repeat(depth));
    let raw = as_the_runtime_reads_it(nested_object.as_bytes()).expect("raw");
    let error = turnstile::decode_json::<SyncRequest>(raw.get()).unwrap_err();
    assert_eq!(error.error_type(), "InvalidEvent");
}

#[test]
fn objects_must_be_objects_and_modes_strings() {
    let cases = [
        (
            json_onboard(serde_json::json!(["alice.archer", "Alice Archer", ["Alice", "Archer"]])),
            "user: must be a JSON object",
        ),
        (
            json_onboard(serde_json::json!({ "userName": "a", "displayName": "A", "name": ["Alice", "Archer"] })),
            "user.name: must be a JSON object",
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(
            turnstile::decode::<OnboardRequest>(event).unwrap_err(),
            Error::InvalidEvent(expected.into())
        );
    }
    let error =
        turnstile::decode::<OffboardRequest>(serde_json::json!({ "userName": "a", "mode": { "revoke": null } }))
            .unwrap_err();
    assert_eq!(
        error,
        Error::InvalidEvent("mode: invalid type, expected a string".into())
    );
    let error =
        turnstile::decode::<SyncRequest>(serde_json::json!({ "group": ["Engineering"], "members": [] })).unwrap_err();
    assert_eq!(error, Error::InvalidEvent("group: must be a JSON object".into()));
}

fn json_onboard(user: serde_json::Value) -> serde_json::Value {
    let mut event = serde_json::Map::new();
    event.insert("user".into(), user);
    serde_json::Value::Object(event)
}
