//! A bulk load through the SQS path with faults on (issue: delivery that survives bulk
//! loads): joiners and leavers on their functions' queues at once, each queue drained by
//! two execution environments in batches of 10 as the event source mapping would, a
//! failed record returned to its queue until its fifth receive and then dead-lettered.
//! With throttling (both shapes) and server errors on every call, the load must end with
//! every event applied (none dead-lettered) and the store equal to the same load
//! delivered without faults: the fault scenarios' oracle.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use turnstile_emulator::{FaultConfig, FaultSpec, ThrottleShape};
use turnstile_reliability::harness::{BUDGET, kind};
use turnstile_reliability::people::{self, GROUPS};
use turnstile_reliability::{Emu, Function, deliver, invoke};

const JOINERS: usize = 120;
const LEAVERS: usize = 20;
const BATCH_SIZE: usize = 10;
const MAX_RECEIVE_COUNT: u32 = 5;
const ENVIRONMENTS: usize = 2;

#[derive(Debug, Clone)]
struct Message {
    id: String,
    body: Value,
    receives: u32,
}

#[derive(Debug, Default)]
struct Queue {
    waiting: VecDeque<Message>,
    in_flight: usize,
    applied: usize,
    dead: Vec<Message>,
}

fn batch(messages: &[Message]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| serde_json::json!({"messageId": m.id, "body": m.body.to_string(), "eventSource": "aws:sqs"}))
        .collect();
    serde_json::json!({ "Records": records })
}

/// One environment draining `queue` with `function`'s service until it is empty.
async fn drain(service: turnstile::Service, function: Function, queue: Arc<Mutex<Queue>>) {
    loop {
        let taken: Vec<Message> = {
            let mut q = queue.lock().unwrap();
            if q.waiting.is_empty() && q.in_flight == 0 {
                return;
            }
            let n = q.waiting.len().min(BATCH_SIZE);
            let taken: Vec<Message> = q.waiting.drain(..n).collect();
            q.in_flight += taken.len();
            taken
        };
        if taken.is_empty() {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            continue;
        }
        let outcome = invoke(&service, function, batch(&taken), BUDGET).await;
        let failed: Vec<String> = match &outcome {
            Ok(answer) => answer["batchItemFailures"]
                .as_array()
                .expect("a batch is answered with batchItemFailures")
                .iter()
                .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
                .collect(),
            // A failed invocation returns every record.
            Err(_) => taken.iter().map(|m| m.id.clone()).collect(),
        };
        let mut q = queue.lock().unwrap();
        q.in_flight -= taken.len();
        for mut message in taken {
            if failed.contains(&message.id) {
                message.receives += 1;
                if message.receives >= MAX_RECEIVE_COUNT {
                    q.dead.push(message);
                } else {
                    q.waiting.push_back(message);
                }
            } else {
                q.applied += 1;
            }
        }
    }
}

/// Delivers the load to `emu` through the two queues and returns them drained.
async fn load(emu: &Emu, joiners: &[Value], leavers: &[Value]) -> (Queue, Queue) {
    let mut tasks = Vec::new();
    let mut queues = Vec::new();
    for (function, events, prefix) in [
        (Function::OnboardUser, joiners, "join"),
        (Function::OffboardUser, leavers, "leave"),
    ] {
        let queue = Arc::new(Mutex::new(Queue {
            waiting: events
                .iter()
                .enumerate()
                .map(|(i, body)| Message {
                    id: format!("m-{prefix}-{i}"),
                    body: body.clone(),
                    receives: 0,
                })
                .collect(),
            ..Queue::default()
        }));
        for _ in 0..ENVIRONMENTS {
            let service = emu.service_with(|c| c.leavers_group = Some("Leavers".to_owned())).await;
            tasks.push(drain(service, function, Arc::clone(&queue)));
        }
        queues.push(queue);
    }
    // The environments run side by side on this task (each ends when its queue is
    // drained).
    futures_util::future::join_all(tasks).await;
    let mut drained = queues.into_iter().map(|q| std::mem::take(&mut *q.lock().unwrap()));
    (drained.next().unwrap(), drained.next().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_bulk_load_with_throttles_and_server_errors_ends_as_the_fault_free_load_does() {
    people::register(JOINERS + LEAVERS, 1);
    let person = |i: usize| people::person(i, 0);
    let joiners: Vec<Value> = (0..JOINERS)
        .map(|i| {
            people::envelope(
                "Employee Hired",
                people::onboard(&person(i), &[GROUPS[i % 12], GROUPS[(i + 5) % 12]]),
            )
        })
        .collect();
    let leavers: Vec<Value> = (JOINERS..JOINERS + LEAVERS)
        .map(|i| people::envelope("Employee Terminated", people::offboard(&person(i).user_name, None)))
        .collect();
    let reference = Emu::start(11).await;
    let faulty = Emu::start(11).await;
    // The leavers exist before the load, in two groups each, in both stores.
    for emu in [&reference, &faulty] {
        let service = emu.service().await;
        for i in JOINERS..JOINERS + LEAVERS {
            let hired = deliver(
                &service,
                Function::OnboardUser,
                &people::onboard(&person(i), &GROUPS[..2]),
            )
            .await;
            assert_eq!(kind(&hired.outcome), "ok");
        }
    }
    let (joined, left) = load(&reference, &joiners, &leavers).await;
    assert_eq!(
        (joined.applied, left.applied),
        (JOINERS, LEAVERS),
        "without faults every event applies at once"
    );

    let mut faults = FaultConfig {
        seed: 11,
        ..FaultConfig::default()
    };
    faults.default = FaultSpec {
        throttle_probability: 0.1,
        error_probability: 0.05,
        throttle_shape: ThrottleShape::Captured,
        ..FaultSpec::default()
    };
    // One API also throttles in the fuller shape, with a rate limit a bulk load exceeds.
    faults.operations.insert(
        "CreateGroupMembership".into(),
        FaultSpec {
            rate_limit: Some(200.0),
            burst: Some(5.0),
            throttle_probability: 0.1,
            throttle_shape: ThrottleShape::Detailed,
            ..FaultSpec::default()
        },
    );
    faulty.set_faults(&faults).await;
    let (joined, left) = load(&faulty, &joiners, &leavers).await;
    faulty.clear_faults().await;
    let counters = faulty.counters().await;
    assert!(
        counters.injected_total() > 100,
        "the faults were on: {:?}",
        counters.injected
    );

    let dead: Vec<&str> = joined.dead.iter().chain(&left.dead).map(|m| m.id.as_str()).collect();
    assert!(dead.is_empty(), "dead-lettered: {dead:?}");
    assert_eq!((joined.applied, left.applied), (JOINERS, LEAVERS));
    let want = reference.snapshot().await;
    let got = faulty.snapshot().await;
    assert_eq!(got.anomalies(), 0, "no duplicate user or membership");
    let differences = got.differences(&want);
    assert!(differences.lines.is_empty(), "{:#?}", differences.lines);
}
