//! What lambda_runtime 1.5 does with a payload before the handler runs, observed by
//! running the functions' `main.rs` wiring (the `turnstile-runtime-probe` binary)
//! against a fake Runtime API: the runtime deserializes the raw body into
//! the handler's payload type itself (`deserializer::deserialize`), and a failure there
//! is reported with the runtime's own error object, whose `errorType` is a Rust type
//! name. With `serde_json::Value` as the payload type, serde_json's recursion limit (128)
//! made every event nested deeper than that such a failure; the handlers now take the
//! payload raw (`Box<RawValue>`, read without a nesting limit) and decode it themselves,
//! and a layer in front of the runtime's decoding refuses, as `InvalidEvent`, every body
//! that is not exactly one JSON value (the runtime alone ignored trailing characters and
//! answered non-JSON with its own Rust type name as `errorType`).

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use turnstile_reliability::runtime_api::{FakeRuntime, Probe, Reply};
use turnstile_reliability::{Emu, logs, people, sizing};

const PROBE: &str = env!("CARGO_BIN_EXE_turnstile-runtime-probe");
const WAIT: Duration = Duration::from_secs(20);

fn nested_event(depth: usize) -> Vec<u8> {
    // `{"userName": "…", "extra": [[…]]}`: `depth` levels including the top object.
    let mut text = br#"{"userName":"ottoline.quenby0","mode":"revoke","extra":"#.to_vec();
    text.extend(std::iter::repeat_n(b'[', depth - 1));
    text.extend(std::iter::repeat_n(b']', depth - 1));
    text.push(b'}');
    text
}

async fn start(function: &str, env: &[(&str, &str)]) -> (Emu, FakeRuntime, Probe) {
    let emu = Emu::start(500).await;
    let runtime = FakeRuntime::start().await;
    let probe = Probe::spawn(Path::new(PROBE), function, runtime.addr, &emu.endpoint(), env);
    (emu, runtime, probe)
}

async fn send(runtime: &FakeRuntime, payload: &[u8]) -> Reply {
    runtime
        .invoke(payload, WAIT)
        .await
        .expect("the runtime answers every invocation")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_payloads_are_invalid_events_and_the_runtime_keeps_serving() {
    people::register(1, 1);
    let (_emu, runtime, probe) = start("offboard-user", &[]).await;
    // (payload, expected errorType; None: a result)
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("nesting of 127 levels (serde_json's most)", nested_event(127), None),
        ("nesting of 128 levels", nested_event(128), Some("InvalidEvent")),
        ("nesting of 129 levels", nested_event(129), Some("InvalidEvent")),
        ("nesting of 100,000 levels", nested_event(100_000), Some("InvalidEvent")),
        (
            "lone surrogate escape",
            br#"{"userName": "\ud800"}"#.to_vec(),
            Some("InvalidEvent"),
        ),
        (
            "number out of range",
            br#"{"userName": 1e400}"#.to_vec(),
            Some("InvalidEvent"),
        ),
        (
            "truncated JSON",
            br#"{"userName": "ottoline.quenby0""#.to_vec(),
            Some("InvalidEvent"),
        ),
        (
            "invalid UTF-8",
            b"{\"userName\": \"\xff\xfe\"}".to_vec(),
            Some("InvalidEvent"),
        ),
        ("bad escape", br#"{"userName": "\q"}"#.to_vec(), Some("InvalidEvent")),
        ("empty body", Vec::new(), Some("InvalidEvent")),
        (
            "trailing characters after the object",
            br#"{"userName": "ottoline.quenby0"} trailing"#.to_vec(),
            Some("InvalidEvent"),
        ),
        (
            "two JSON values",
            br#"{"userName": "ottoline.quenby0"} {"userName": "ottoline.quenby0"}"#.to_vec(),
            Some("InvalidEvent"),
        ),
        (
            "whitespace around the object",
            b" \n{\"userName\": \"ottoline.quenby0\"}\n ".to_vec(),
            None,
        ),
    ];
    let mut figures = Vec::new();
    let mut wrong = Vec::new();
    for (label, payload, expected) in &cases {
        let reply = send(&runtime, payload).await;
        if reply.error_type().as_deref() != *expected {
            wrong.push(format!(
                "{label}: expected {expected:?}, got {}: {}",
                reply.kind, reply.body
            ));
        }
        figures.push(json!({
            "payload": label,
            "reply": reply.kind,
            "errorType": reply.error_type(),
            "errorMessage": reply.json().get("errorMessage"),
        }));
    }
    // Still serving: a plain invalid event afterwards gets the handler's answer.
    let after = send(&runtime, br#"{"mode": "revoke"}"#).await;
    let lines = probe.stop().await;
    sizing::report("runtime-payload-decoding", &json!(figures));
    assert_eq!(wrong, Vec::<String>::new(), "{figures:#?}");
    assert_eq!(after.error_type().as_deref(), Some("InvalidEvent"));
    assert!(
        !lines.iter().any(|l| l.contains("LambdaEvent<T> failed")),
        "no body reaches the runtime's own decoding failure: {lines:#?}"
    );
    let not_json = figures
        .iter()
        .filter(|f| {
            f["errorMessage"]
                .as_str()
                .is_some_and(|m| m.contains("the event is not one JSON value"))
        })
        .count();
    assert_eq!(
        not_json, 6,
        "each body that is not one JSON value says so: {figures:#?}"
    );
    for line in &lines {
        logs::scan("log", line);
    }
    assert_eq!(logs::findings(), vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_rejects_a_deeply_nested_event_as_invalid_event() {
    for function in turnstile::Function::ALL.map(turnstile::Function::name) {
        let (_emu, runtime, probe) = start(function, &[]).await;
        for depth in [128, 10_000] {
            let reply = send(&runtime, &nested_event(depth)).await;
            assert_eq!(
                reply.error_type().as_deref(),
                Some("InvalidEvent"),
                "{function}, {depth} levels: {}",
                reply.body
            );
        }
        probe.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_trace_level_a_payload_that_is_not_utf8_is_an_invalid_event_and_the_runtime_keeps_serving() {
    // README: TRACE logs raw events and is not for real data. The runtime's own trace
    // line needs the body as UTF-8, and when it is not, lambda_runtime alone ends its
    // loop without an error object; the payload check hands it `null` instead.
    let (_emu, runtime, mut probe) = start("offboard-user", &[("AWS_LAMBDA_LOG_LEVEL", "TRACE")]).await;
    let reply = send(&runtime, b"{\"userName\": \"\xff\"}").await;
    let after = send(&runtime, br#"{"mode": "revoke"}"#).await;
    let exited = probe.exited();
    let lines = probe.stop().await;
    sizing::report(
        "runtime-trace-non-utf8",
        &json!({ "reply": reply.kind, "errorType": reply.error_type(), "processExited": exited.map(|s| s.to_string()) }),
    );
    assert_eq!(reply.error_type().as_deref(), Some("InvalidEvent"), "{}", reply.body);
    assert_eq!(after.error_type().as_deref(), Some("InvalidEvent"), "{}", after.body);
    assert!(exited.is_none(), "the process keeps serving: {lines:#?}");
}
