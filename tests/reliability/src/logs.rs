//! Every log line of the test binary, captured as Lambda writes it, and scanned for
//! personal data.
//!
//! [`install`] sets, once per test binary, a JSON `tracing` subscriber like the one the
//! functions' `main.rs` installs under `AWS_LAMBDA_LOG_FORMAT=JSON` (`fmt().json()`,
//! no time), at INFO for every target (the functions' default level, with WARN and
//! ERROR) and DEBUG for Turnstile's own crates. Each line is scanned as it is written
//! against the personal values registered with [`register_pii`]; so is every
//! `errorMessage` the suite sees ([`scan`]). Findings are kept for [`findings`].

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, RwLock};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// One personal value found where it must not be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `log` or `errorMessage`.
    pub place: &'static str,
    pub value: String,
    pub text: String,
}

static NEEDLES: RwLock<Vec<String>> = RwLock::new(Vec::new());
static FINDINGS: Mutex<Vec<Finding>> = Mutex::new(Vec::new());
static LEVELS: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static MESSAGES: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static LINES: AtomicU64 = AtomicU64::new(0);
static ERROR_MESSAGES: AtomicU64 = AtomicU64::new(0);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The filter the capture uses: what the functions log by default, and Turnstile's
/// DEBUG lines on top.
pub const FILTER: &str = "info,turnstile=debug";

/// Installs the capturing subscriber for this test binary (idempotent).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .json()
            .without_time()
            .with_target(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_env_filter(EnvFilter::new(FILTER))
            .with_writer(Capture)
            .finish();
        // Another test support crate may have set one first; then nothing is captured
        // and `lines()` stays at 0, which the PII test checks.
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Adds personal values to look for. Values shorter than 5 characters are ignored (too
/// likely to occur by chance).
pub fn register_pii<I, S>(values: I)
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut needles = NEEDLES.write().unwrap_or_else(std::sync::PoisonError::into_inner);
    for value in values {
        let value = value.into();
        if value.chars().count() >= 5 && !needles.contains(&value) {
            needles.push(value);
        }
    }
}

/// How many personal values are registered.
pub fn registered() -> usize {
    NEEDLES.read().map_or(0, |n| n.len())
}

/// Looks for registered values in `text`, recording each found one.
pub fn scan(place: &'static str, text: &str) {
    if place == "errorMessage" {
        ERROR_MESSAGES.fetch_add(1, Ordering::Relaxed);
    }
    let needles = NEEDLES.read().unwrap_or_else(std::sync::PoisonError::into_inner);
    let found: Vec<Finding> = needles
        .iter()
        .filter(|needle| text.contains(needle.as_str()))
        .map(|needle| Finding {
            place,
            value: needle.clone(),
            text: text.chars().take(4000).collect(),
        })
        .collect();
    drop(needles);
    if !found.is_empty() {
        lock(&FINDINGS).extend(found);
    }
}

/// Every finding so far.
pub fn findings() -> Vec<Finding> {
    lock(&FINDINGS).clone()
}

/// Log lines captured so far.
pub fn lines() -> u64 {
    LINES.load(Ordering::Relaxed)
}

/// Error messages scanned so far.
pub fn error_messages() -> u64 {
    ERROR_MESSAGES.load(Ordering::Relaxed)
}

/// Captured lines per level (`INFO`, `WARN`, ...).
pub fn levels() -> BTreeMap<String, u64> {
    lock(&LEVELS).clone()
}

/// How many captured lines carried `message` exactly.
pub fn count_message(message: &str) -> u64 {
    lock(&MESSAGES).get(message).copied().unwrap_or(0)
}

fn record(line: &str) {
    if line.trim().is_empty() {
        return;
    }
    LINES.fetch_add(1, Ordering::Relaxed);
    scan("log", line);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
        if let Some(level) = value.get("level").and_then(serde_json::Value::as_str) {
            *lock(&LEVELS).entry(level.to_owned()).or_default() += 1;
        }
        if let Some(message) = value.pointer("/fields/message").and_then(serde_json::Value::as_str) {
            *lock(&MESSAGES).entry(message.to_owned()).or_default() += 1;
        }
    }
}

struct Capture;

/// One event's output, processed when the subscriber drops it.
pub struct LineBuffer(Vec<u8>);

impl std::fmt::Debug for LineBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LineBuffer").field(&self.0.len()).finish()
    }
}

impl io::Write for LineBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        for line in text.lines() {
            record(line);
        }
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = LineBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        LineBuffer(Vec::new())
    }
}
