//! An identity store the service does not serve (another store's id, or a region other
//! than the store's): the service answers ResourceNotFoundException with ResourceType
//! `IDENTITY_STORE`, and every function, on every call path, must report the
//! configuration error, never a user or group `notFound` and never "already gone".

use serde_json::{Value, json};
use turnstile_reliability::{Emu, Function, deliver, people};

/// Well-formed, and not the emulator's (`d-1234567890`).
const OTHER_STORE: &str = "d-0fedcba987";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_answers_configuration_for_a_store_the_service_does_not_serve_and_writes_nothing() {
    people::register(2, 1);
    let emu = Emu::start(610).await;
    let alice = people::person(0, 0);
    let bob = people::person(1, 0);
    let right = emu.service().await;
    for person in [&alice, &bob] {
        let done = deliver(
            &right,
            Function::OnboardUser,
            &people::onboard(person, &["Engineering"]),
        )
        .await;
        assert!(done.outcome.is_ok(), "{:?}", done.outcome);
    }
    let before = emu.snapshot().await;
    let writes = emu.writes().await;

    let wrong = emu
        .service_with(|config| config.identity_store_id = OTHER_STORE.into())
        .await;
    let names = vec![alice.user_name.clone()];
    let requests: Vec<(Function, &str, Value)> = vec![
        (
            Function::OnboardUser,
            "a joiner",
            people::onboard(&people::person(2, 0), &["Engineering"]),
        ),
        (Function::OnboardUser, "a mover", people::onboard(&alice, &["Platform"])),
        (
            Function::OffboardUser,
            "a leaver, delete",
            people::offboard(&alice.user_name, None),
        ),
        (
            Function::OffboardUser,
            "a leaver, revoke",
            people::offboard(&bob.user_name, Some("revoke")),
        ),
        (
            Function::OffboardUser,
            "a leaver no user is",
            people::offboard("nobody.known", None),
        ),
        (
            Function::SyncGroup,
            "a replace",
            people::sync("Engineering", &names, "replace"),
        ),
        (
            Function::SyncGroup,
            "an add",
            people::sync("Engineering", &names, "add"),
        ),
        (
            Function::SyncGroup,
            "a remove",
            people::sync("Engineering", &names, "remove"),
        ),
        (
            Function::SyncGroup,
            "a remove of a missing group",
            people::sync("Nowhere", &names, "remove"),
        ),
        (Function::SyncGroup, "a dry run", {
            let mut dry = people::sync("Engineering", &[], "replace");
            dry["dryRun"] = json!(true);
            dry
        }),
    ];
    let mut wrong_answers = Vec::new();
    for (function, label, payload) in &requests {
        let done = deliver(&wrong, *function, payload).await;
        let answer = match &done.outcome {
            Ok(result) => format!("a result: {result}"),
            Err(e) if e.error_type == "Configuration" && e.error_message.contains("IDENTITY_STORE_ID") => continue,
            Err(e) => format!("{}: {}", e.error_type, e.error_message),
        };
        wrong_answers.push(format!("{} on {label}: {answer}", function.name()));
    }

    assert_eq!(wrong_answers, Vec::<String>::new());
    assert_eq!(emu.writes().await, writes, "nothing was written");
    assert_eq!(emu.snapshot().await, before);
}
