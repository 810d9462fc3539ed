//! Hostile input, as property tests over each function's `handle`.
//!
//! Payloads are bytes, read first as the Lambda runtime reads them (the first JSON value
//! of the body, raw: a body that is not JSON never reaches the handler), then handed to
//! the function's `handle` with a mocked Identity Store whose every operation is denied.
//! Every case must end in one of two ways: `InvalidEvent` with no Identity Store call
//! made, or a valid request (the first call is made, and denied). Which of the two must
//! agree with an independent reading of the contract's rules ([`oracle`]). Error
//! messages must never echo a value of the request. A panic fails the test.
//!
//! Cases: valid requests with up to four mutations (random JSON at any path, numbers
//! where strings belong, over-long strings in code points, control characters, blank
//! and reserved values, removed and `null` fields, objects as arrays, unknown fields),
//! in both event forms with broken envelopes; random JSON; raw text corruption (invalid
//! unicode escapes, invalid UTF-8, truncation, bad numbers); deep nesting up to 100,000
//! levels; member lists and group lists around and above their caps.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use turnstile::testing;
use turnstile_reliability::{Function, invoke, invoke_raw, logs, oracle, runtime_payload, sizing};

const SECRET: &str = "s3cr3t";

fn text_char_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(|chars| chars.into_iter().collect())
}

fn user_name() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[a-z]{1,8}\\.[a-z]{1,8}[0-9]{0,2}",
        1 => "[\\p{L}\\p{N}\\p{P}\\p{S}]{1,12}",
        1 => Just(format!("{SECRET}.person")),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z][A-Za-z .,'-]{0,20}",
        1 => "[\\p{L}\\p{M}\\p{N}\\p{P} ]{1,16}",
        1 => Just(format!("{SECRET} value with spaces")),
    ]
}

fn special_string() -> impl Strategy<Value = String> {
    let fixed: Vec<String> = vec![
        String::new(),
        " ".into(),
        "\t\n\r".into(),
        "\u{a0}\u{3000}".into(),
        "Administrator".into(),
        "AWSAdministrators".into(),
        "administrator".into(),
        "a".repeat(128),
        "a".repeat(129),
        "é".repeat(128),
        "😀".repeat(129),
        "x".repeat(1024),
        "x".repeat(1025),
        "語".repeat(1025),
        "ab\u{0}cd".into(),
        "colour\u{1b}[31m".into(),
        "line\u{2028}separator".into(),
        "bell\u{7}".into(),
        "\u{7f}".into(),
        "zero\u{200b}width".into(),
        "right\u{202e}to left".into(),
        "tab\tand\nnewline".into(),
        format!("{SECRET}-4711"),
        format!("{SECRET}.person@example.com"),
        format!("+44 20 7946 0999 {SECRET}"),
        format!("{SECRET} 12 Quarry Lane"),
    ];
    prop_oneof![
        6 => proptest::sample::select(fixed),
        2 => text_char_string(40),
        1 => (1usize..1200, any::<char>()).prop_map(|(n, c)| std::iter::repeat_n(c, n).collect()),
    ]
}

/// Field names the requests and the envelope use, and a few others.
fn key() -> impl Strategy<Value = String> {
    let known: Vec<&str> = vec![
        "user",
        "userName",
        "displayName",
        "name",
        "givenName",
        "familyName",
        "middleName",
        "emails",
        "phoneNumbers",
        "addresses",
        "value",
        "type",
        "primary",
        "streetAddress",
        "title",
        "website",
        "birthdate",
        "photos",
        "display",
        "roles",
        "enterprise",
        "employeeNumber",
        "department",
        "manager",
        "groups",
        "group",
        "description",
        "members",
        "mode",
        "dryRun",
        "maxRemovals",
        "detail",
        "detail-type",
        "source",
        "time",
        "resources",
        "delete",
        "revoke",
        "replace",
        "add",
        "remove",
    ];
    prop_oneof![
        4 => proptest::sample::select(known).prop_map(str::to_owned),
        1 => "[a-zA-Z_-]{1,10}",
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        special_string().prop_map(Value::String),
        user_name().prop_map(Value::String),
        text().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

fn contact() -> impl Strategy<Value = Value> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(any::<bool>()),
    )
        .prop_map(|(value, kind, primary)| {
            let mut item = Map::new();
            item.insert("value".into(), json!(value));
            if let Some(kind) = kind {
                item.insert("type".into(), json!(kind));
            }
            if let Some(primary) = primary {
                item.insert("primary".into(), json!(primary));
            }
            Value::Object(item)
        })
}

/// Some of `birthdate` (a real date, or one that does not exist), `photos` (1 to 4, any
/// primary), `roles` and `enterprise` (a manager by userName), as user members.
fn hr_attributes() -> impl Strategy<Value = Value> {
    let photo = (text(), proptest::option::of(any::<bool>())).prop_map(|(value, primary)| match primary {
        Some(primary) => json!({ "value": value, "primary": primary }),
        None => json!({ "value": value }),
    });
    (
        proptest::option::of(proptest::sample::select(vec![
            "1988-02-29",
            "1989-02-29",
            "2026-13-01",
            "2026-12-02",
        ])),
        proptest::option::of(proptest::collection::vec(photo, 1..5)),
        proptest::option::of(text()),
        proptest::option::of((proptest::option::of(text()), proptest::option::of(user_name()))),
    )
        .prop_map(|(birthdate, photos, role, enterprise)| {
            let mut hr = Map::new();
            if let Some(birthdate) = birthdate {
                hr.insert("birthdate".into(), json!(birthdate));
            }
            if let Some(photos) = photos {
                hr.insert("photos".into(), Value::Array(photos));
            }
            if let Some(role) = role {
                hr.insert("roles".into(), json!([{ "value": role }]));
            }
            if let Some((department, manager)) = enterprise {
                hr.insert(
                    "enterprise".into(),
                    json!({ "department": department, "manager": manager }),
                );
            }
            Value::Object(hr)
        })
}

fn template(function: Function) -> BoxedStrategy<Value> {
    match function {
        Function::OnboardUser => (
            (user_name(), text(), text(), text(), proptest::option::of(text())),
            (
                proptest::option::of(contact()),
                proptest::option::of(contact()),
                proptest::option::of((text(), text())),
                proptest::option::of(text()),
                proptest::option::of(proptest::collection::vec(text(), 0..5)),
            ),
            hr_attributes(),
        )
            .prop_map(
                |((user_name, display, given, family, middle), (email, phone, address, title, groups), hr)| {
                    let mut name = json!({ "givenName": given, "familyName": family });
                    if let Some(middle) = middle {
                        name["middleName"] = json!(middle);
                    }
                    let mut user = json!({ "userName": user_name, "displayName": display, "name": name });
                    if let Some(email) = email {
                        user["emails"] = json!([email]);
                    }
                    if let Some(phone) = phone {
                        user["phoneNumbers"] = json!([phone]);
                    }
                    if let Some((street, town)) = address {
                        user["addresses"] = json!([{ "streetAddress": street, "locality": town, "primary": true }]);
                    }
                    if let Some(title) = title {
                        user["title"] = json!(title);
                    }
                    if let (Some(user), Value::Object(hr)) = (user.as_object_mut(), hr) {
                        user.extend(hr);
                    }
                    let mut request = json!({ "user": user });
                    if let Some(groups) = groups {
                        request["groups"] = json!(groups);
                    }
                    request
                },
            )
            .boxed(),
        Function::OffboardUser => (
            user_name(),
            proptest::option::of(proptest::sample::select(vec!["delete", "revoke"])),
        )
            .prop_map(|(user_name, mode)| match mode {
                Some(mode) => json!({ "userName": user_name, "mode": mode }),
                None => json!({ "userName": user_name }),
            })
            .boxed(),
        Function::SyncGroup => (
            (text(), proptest::option::of(text())),
            proptest::collection::vec(user_name(), 0..6),
            proptest::option::of(proptest::sample::select(vec!["replace", "add", "remove"])),
            proptest::option::of(any::<bool>()),
            proptest::option::of(0u32..100),
        )
            .prop_map(|((display, description), members, mode, dry_run, max_removals)| {
                let mut group = json!({ "displayName": display });
                if let Some(description) = description {
                    group["description"] = json!(description);
                }
                let mut request = json!({ "group": group, "members": members });
                if let Some(mode) = mode {
                    request["mode"] = json!(mode);
                }
                if let Some(dry_run) = dry_run {
                    request["dryRun"] = json!(dry_run);
                }
                if let Some(max) = max_removals {
                    request["maxRemovals"] = json!(max);
                }
                request
            })
            .boxed(),
    }
}

/// Text spliced into the serialized JSON in place of a value.
fn raw_snippet() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<Vec<u8>> = [
        &b"1e400"[..],
        b"-0",
        b"18446744073709551616",
        b"4294967296",
        b"4294967295",
        b"-1",
        b"1.0",
        b"1E2",
        b"NaN",
        b"Infinity",
        b"tru",
        b"nul",
        b"[1,]",
        b"{\"a\" 1}",
        b"\"\\ud800\"",
        b"\"\\udc00x\"",
        b"\"\\ud83d\\ude00\"",
        b"\"\\u12\"",
        b"\"\\uZZZZ\"",
        b"\"\\u0000\"",
        b"\"a\\qb\"",
        b"\"\xff\xfe\"",
        b"\"\xc3\x28\"",
        b"\"\xed\xa0\x80\"",
        b"\"raw\x01control\"",
        b"\"\xef\xbf\xbd\"",
        b"\"s3cr3t\" trailing",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    prop_oneof![
        4 => proptest::sample::select(fixed),
        1 => deep_snippet(),
    ]
}

/// Nested arrays or objects, `depth` levels deep.
fn nested(depth: usize, objects: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(depth * 6 + 1);
    for _ in 0..depth {
        out.extend_from_slice(if objects { b"{\"a\":" } else { b"[" });
    }
    out.push(b'1');
    for _ in 0..depth {
        out.push(if objects { b'}' } else { b']' });
    }
    out
}

fn deep_snippet() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(1usize),
            Just(50),
            Just(120),
            Just(125),
            Just(126),
            Just(127),
            Just(128),
            Just(129),
            Just(200),
            Just(1000),
            Just(100_000),
            1usize..300,
        ],
        any::<bool>(),
    )
        .prop_map(|(depth, objects)| nested(depth, objects))
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(Value),
    Remove,
    Null,
    Wrap,
    AsArray,
    AddUnknown(String, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => json_value().prop_map(Mutation::Replace),
        4 => special_string().prop_map(|s| Mutation::Replace(Value::String(s))),
        2 => Just(Mutation::Remove),
        2 => Just(Mutation::Null),
        1 => Just(Mutation::Wrap),
        1 => Just(Mutation::AsArray),
        2 => (key(), json_value()).prop_map(|(k, v)| Mutation::AddUnknown(k, v)),
    ]
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    At(usize),
}

fn paths(value: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                here.push(Step::Key(k.clone()));
                paths(v, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                here.push(Step::At(i));
                paths(v, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

fn at<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut current = value;
    for step in path {
        current = match step {
            Step::Key(k) => current.get_mut(k.as_str())?,
            Step::At(i) => current.get_mut(*i)?,
        };
    }
    Some(current)
}

fn apply(mut value: Value, index: Index, mutation: &Mutation) -> Value {
    let mut all = Vec::new();
    paths(&value, &mut Vec::new(), &mut all);
    let path = all[index.index(all.len())].clone();
    if let Mutation::Remove = mutation {
        if let Some((last, parent)) = path.split_last() {
            if let Some(parent) = at(&mut value, parent) {
                match (parent, last) {
                    (Value::Object(map), Step::Key(k)) => {
                        map.remove(k);
                    }
                    (Value::Array(items), Step::At(i)) if *i < items.len() => {
                        items.remove(*i);
                    }
                    _ => {}
                }
            }
        }
        return value;
    }
    if let Some(target) = at(&mut value, &path) {
        match mutation {
            Mutation::Replace(v) => *target = v.clone(),
            Mutation::Null => *target = Value::Null,
            Mutation::Wrap => *target = json!([target.take()]),
            Mutation::AsArray => {
                if let Value::Object(map) = target {
                    *target = Value::Array(map.values().cloned().collect());
                }
            }
            Mutation::AddUnknown(k, v) => {
                if let Value::Object(map) = target {
                    map.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            Mutation::Remove => {}
        }
    }
    value
}

const DETAIL_TYPES: [&str; 3] = ["Employee Hired", "Employee Terminated", "Group Roster Changed"];

/// An EventBridge envelope around `detail`, its own members sometimes broken.
fn wrap(detail: Value, broken: Option<(usize, Value)>) -> Value {
    let mut envelope = json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": DETAIL_TYPES[0],
        "source": "com.example.hr",
        "account": "111122223333",
        "time": oracle::VALID_TIMES[0],
        "region": "eu-west-1",
        "resources": []
    });
    envelope["detail"] = detail;
    if let Some((field, value)) = broken {
        let fields = [
            "detail-type",
            "source",
            "time",
            "resources",
            "version",
            "detail",
            "region",
        ];
        let name = fields[field % fields.len()];
        if value == json!("__drop__") {
            envelope.as_object_mut().map(|m| m.remove(name));
        } else {
            envelope[name] = value;
        }
    }
    envelope
}

fn envelope_field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!("__drop__")),
        Just(Value::Null),
        Just(json!(oracle::VALID_TIMES[1])),
        Just(json!("yesterday")),
        Just(json!(["arn:aws:events:eu-west-1:111122223333:rule/x"])),
        json_value(),
    ]
}

fn mutated(function: Function) -> impl Strategy<Value = Vec<u8>> {
    (
        template(function),
        proptest::collection::vec((any::<Index>(), mutation()), 0..4),
        prop_oneof![
            2 => Just(None),
            1 => Just(Some(None)),
            1 => (0usize..7, envelope_field_value()).prop_map(|b| Some(Some(b))),
        ],
        proptest::option::weighted(0.15, (any::<Index>(), raw_snippet())),
    )
        .prop_map(|(request, mutations, envelope, raw)| {
            let mut request = request;
            for (index, mutation) in &mutations {
                request = apply(request, *index, mutation);
            }
            let mut payload = match envelope {
                None => request,
                Some(broken) => wrap(request, broken),
            };
            match raw {
                None => serde_json::to_vec(&payload).expect("serializable"),
                Some((index, snippet)) => {
                    payload = apply(payload, index, &Mutation::Replace(json!("__RAW__")));
                    let text = serde_json::to_vec(&payload).expect("serializable");
                    splice(&text, b"\"__RAW__\"", &snippet)
                }
            }
        })
}

fn splice(text: &[u8], placeholder: &[u8], snippet: &[u8]) -> Vec<u8> {
    match text.windows(placeholder.len()).position(|w| w == placeholder) {
        Some(at) => [&text[..at], snippet, &text[at + placeholder.len()..]].concat(),
        None => text.to_vec(),
    }
}

/// Byte-level damage to a valid request's text.
fn corrupted(function: Function) -> impl Strategy<Value = Vec<u8>> {
    (
        template(function),
        any::<Index>(),
        prop_oneof![
            raw_snippet(),
            Just(Vec::new()),
            proptest::collection::vec(any::<u8>(), 1..4)
        ],
        any::<bool>(),
    )
        .prop_map(|(request, index, snippet, truncate)| {
            let text = serde_json::to_vec(&request).expect("serializable");
            let at = index.index(text.len() + 1);
            if truncate && snippet.is_empty() {
                text[..at].to_vec()
            } else {
                [&text[..at], &snippet[..], &text[at..]].concat()
            }
        })
}

/// Member lists and group lists at and above their caps.
fn huge(function: Function) -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![Just(0usize), Just(1), Just(2), Just(50)],
        any::<bool>(),
        proptest::option::of(special_string()),
    )
        .prop_map(move |(over, at_cap, odd_one)| {
            let (cap, key) = match function {
                Function::OnboardUser => (oracle::MAX_GROUPS, "groups"),
                _ => (oracle::MAX_MEMBERS, "members"),
            };
            let count = if at_cap { cap } else { cap + over };
            let mut names: Vec<Value> = (0..count).map(|i| json!(format!("member.number{i}"))).collect();
            if let Some(odd) = odd_one {
                if let Some(last) = names.last_mut() {
                    *last = json!(odd);
                }
            }
            let request = match function {
                Function::OnboardUser => json!({
                    "user": { "userName": "big.list", "displayName": "Big List", "name": { "givenName": "Big", "familyName": "List" } },
                    key: names
                }),
                Function::OffboardUser => json!({ "userName": "big.list", key: names }),
                Function::SyncGroup => json!({ "group": { "displayName": "Everyone" }, key: names }),
            };
            serde_json::to_vec(&request).expect("serializable")
        })
}

fn payloads(function: Function) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        50 => mutated(function),
        15 => proptest::collection::vec((key(), json_value()), 0..8)
            .prop_map(|pairs| serde_json::to_vec(&Value::Object(pairs.into_iter().collect())).expect("serializable")),
        4 => json_value().prop_map(|v| serde_json::to_vec(&v).expect("serializable")),
        12 => corrupted(function),
        4 => (template(function), deep_snippet(), any::<bool>()).prop_map(|(request, deep, known_field)| {
            let field = if known_field { "user" } else { "extra" };
            let mut request = request;
            request[field] = json!("__RAW__");
            splice(&serde_json::to_vec(&request).expect("serializable"), b"\"__RAW__\"", &deep)
        }),
        1 => huge(function),
    ]
}

#[derive(Debug, Default)]
struct Stats {
    cases: u64,
    not_json: u64,
    unreadable_json: u64,
    too_deep: u64,
    invalid_event: u64,
    valid: u64,
    arrays_as_objects: u64,
    enum_as_map: u64,
}

fn check(
    function: Function,
    bytes: &[u8],
    rt: &tokio::runtime::Runtime,
    stats: &RefCell<Stats>,
) -> Result<(), TestCaseError> {
    stats.borrow_mut().cases += 1;
    // What the Lambda runtime does first: a body that is not JSON never reaches the
    // handler (the runtime reads it into a raw value, without a nesting limit).
    let Ok(raw) = runtime_payload(bytes) else {
        stats.borrow_mut().not_json += 1;
        return Ok(());
    };
    // The contract's reading of what the handler gets; JSON serde_json will not build
    // (nested past 128 levels, lone surrogates, numbers out of range) is invalid.
    let (expected, deviation) = match serde_json::from_str::<Value>(raw.get()) {
        // The decoder is as strict as the contract: no serde leniency is expected.
        Ok(value) => (oracle::accepts(function, &value), None),
        Err(error) => {
            let mut stats = stats.borrow_mut();
            stats.unreadable_json += 1;
            if error.to_string().contains("recursion limit exceeded") {
                stats.too_deep += 1;
            }
            (false, None)
        }
    };
    let rules = testing::every_operation();
    let refs: Vec<_> = rules.iter().collect();
    let service = testing::service(&refs);
    let outcome = rt.block_on(invoke_raw(&service, function, raw, Duration::from_secs(60)));
    let calls = testing::total_calls(&rules);
    let shown = || String::from_utf8_lossy(&bytes[..bytes.len().min(400)]).into_owned();
    match &outcome {
        Err(error) if error.error_type == "InvalidEvent" => {
            prop_assert_eq!(calls, 0, "an invalid event made Identity Store calls: {}", shown());
            prop_assert!(
                !expected,
                "{} rejected an event the contract accepts: {} -- {}",
                function.name(),
                error.error_message,
                shown()
            );
            prop_assert!(
                !error.error_message.contains(SECRET),
                "the message echoes a value: {}",
                error.error_message
            );
            stats.borrow_mut().invalid_event += 1;
        }
        Err(error) if error.error_type == "AccessDenied" => {
            prop_assert!(calls > 0);
            prop_assert!(
                expected,
                "{} accepted an event the contract rejects: {}",
                function.name(),
                shown()
            );
            let mut stats = stats.borrow_mut();
            stats.valid += 1;
            match deviation {
                Some(oracle::Deviation::ArrayAsObject) => stats.arrays_as_objects += 1,
                Some(oracle::Deviation::EnumAsMap) => stats.enum_as_map += 1,
                None => {}
            }
        }
        other => prop_assert!(false, "unexpected outcome {:?} for {}", other, shown()),
    }
    Ok(())
}

fn property(function: Function) {
    logs::install();
    let cases = sizing::proptest_cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2000,
        ..Config::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let stats = RefCell::new(Stats::default());
    let started = std::time::Instant::now();
    let result = runner.run(&payloads(function), |bytes| check(function, &bytes, &rt, &stats));
    let stats = stats.into_inner();
    sizing::report(
        &format!("hostile-input-{}", function.name()),
        &json!({
            "cases": cases,
            "checked": stats.cases,
            "notJsonNeverReachedHandler": stats.not_json,
            "jsonTheHandlerCannotRead": stats.unreadable_json,
            "ofWhichNestedPast128": stats.too_deep,
            "invalidEvent": stats.invalid_event,
            "validRequests": stats.valid,
            "acceptedArrayForObject": stats.arrays_as_objects,
            "acceptedEnumAsMap": stats.enum_as_map,
            "panics": 0,
            "seconds": started.elapsed().as_secs_f64(),
        }),
    );
    if let Err(error) = result {
        panic!("{error}");
    }
    assert_eq!(logs::findings(), vec![]);
}

#[test]
fn onboard_user_decodes_hostile_input_without_panicking() {
    property(Function::OnboardUser);
}

#[test]
fn offboard_user_decodes_hostile_input_without_panicking() {
    property(Function::OffboardUser);
}

#[test]
fn sync_group_decodes_hostile_input_without_panicking() {
    property(Function::SyncGroup);
}

/// The nesting boundary of serde_json's `Value` (its recursion limit), which the
/// handlers' decoding meets, and the runtime's raw read, which has none.
#[test]
fn serde_json_refuses_values_nested_128_levels_deep_and_raw_reads_do_not() {
    let depth_ok = |depth: usize| {
        let mut text = b"{\"userName\":\"a.b\",\"extra\":".to_vec();
        text.extend(nested(depth - 1, false));
        text.push(b'}');
        serde_json::from_slice::<Value>(&text).is_ok()
    };
    // `depth` counts the top-level object: 127 levels in all is the most accepted.
    assert!(depth_ok(127));
    assert!(!depth_ok(128));
    let deep = nested(100_000, true);
    let err = serde_json::from_slice::<Value>(&deep).expect_err("too deep");
    assert!(err.to_string().starts_with("recursion limit exceeded"), "{err}");
    assert!(runtime_payload(&deep).is_ok(), "a raw read has no nesting limit");
}

/// A direct look at the two places where decoding is looser than the contract's
/// "types are strict" (see the BUG tests below).
fn decode_kind(function: Function, payload: Value) -> String {
    let rules = testing::every_operation();
    let refs: Vec<_> = rules.iter().collect();
    let service = testing::service(&refs);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match rt.block_on(invoke(&service, function, payload, Duration::from_secs(60))) {
        Ok(_) => "ok".into(),
        Err(error) => error.error_type,
    }
}

#[test]
fn an_array_in_place_of_an_object_is_rejected() {
    let cases = [
        (
            Function::SyncGroup,
            json!({ "group": ["Engineering", "Everyone in engineering"], "members": [] }),
        ),
        (
            Function::OnboardUser,
            json!({ "user": { "userName": "a.b", "displayName": "A B", "name": { "givenName": "A", "familyName": "B" },
                "emails": [["a@example.com", "work", true]] } }),
        ),
    ];
    let kinds: BTreeMap<String, String> = cases
        .into_iter()
        .map(|(f, p)| (p.to_string(), decode_kind(f, p)))
        .collect();
    assert!(kinds.values().all(|k| k == "InvalidEvent"), "{kinds:#?}");
}

#[test]
fn a_mode_given_as_an_object_is_rejected() {
    let kinds = [
        decode_kind(
            Function::OffboardUser,
            json!({ "userName": "a.b", "mode": { "revoke": null } }),
        ),
        decode_kind(
            Function::SyncGroup,
            json!({ "group": { "displayName": "G" }, "members": [], "mode": { "add": null } }),
        ),
    ];
    assert_eq!(kinds, ["InvalidEvent", "InvalidEvent"]);
}
