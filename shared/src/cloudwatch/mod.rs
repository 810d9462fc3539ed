//! CloudWatch metrics in the Embedded Metric Format (EMF): after each invocation, one
//! JSON line on the function's log that CloudWatch Logs turns into metrics. Counting
//! costs no API call and no permission, and an invocation that counted nothing writes
//! no line.
//!
//! The domain counts with [`Metric::count`] where a fact becomes true: a write the
//! Identity Store accepted, a throttle it answered, a retry, a ledger verdict, a failed
//! batch record. Only counts leave, with the function's name as the one dimension:
//! never a userName, a group name or an id.
//!
//! Counts go to the `metrics` facade's process-wide recorder, which [`Metrics::install`]
//! sets once per cold start. Without it (the in-process tests) counting does nothing.

use metrics::Unit;
use metrics_cloudwatch_embedded::{Builder, Collector};

/// The namespace of every Turnstile metric (the template's dashboard and alarms).
pub(crate) const NAMESPACE: &str = "Turnstile";

/// The dimension that tells the functions (and stacks) apart: the Lambda function's name.
pub(crate) const DIMENSION: &str = "FunctionName";

/// What the functions count, all in `Count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Metric {
    UsersCreated,
    UsersUpdated,
    UsersDeleted,
    MembershipsAdded,
    MembershipsRemoved,
    /// Identity Store answers that were throttles (the service's, not the pacing's).
    Throttles,
    /// Identity Store calls sent again after a transient failure.
    Retries,
    /// Requests the ledger answered `stale`.
    Stale,
    /// Requests the ledger answered `duplicate`.
    Duplicate,
    /// SQS batch records named in `batchItemFailures`: they fail without failing the
    /// invocation, so Lambda's own Errors metric never sees them.
    FailedRecords,
}

impl Metric {
    pub(crate) const ALL: [Self; 10] = [
        Self::UsersCreated,
        Self::UsersUpdated,
        Self::UsersDeleted,
        Self::MembershipsAdded,
        Self::MembershipsRemoved,
        Self::Throttles,
        Self::Retries,
        Self::Stale,
        Self::Duplicate,
        Self::FailedRecords,
    ];

    /// The metric's name in CloudWatch.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::UsersCreated => "UsersCreated",
            Self::UsersUpdated => "UsersUpdated",
            Self::UsersDeleted => "UsersDeleted",
            Self::MembershipsAdded => "MembershipsAdded",
            Self::MembershipsRemoved => "MembershipsRemoved",
            Self::Throttles => "Throttles",
            Self::Retries => "Retries",
            Self::Stale => "Stale",
            Self::Duplicate => "Duplicate",
            Self::FailedRecords => "FailedRecords",
        }
    }

    /// Counts one occurrence in the current invocation.
    pub(crate) fn count(self) {
        metrics::counter!(self.name()).increment(1);
    }

    /// Counts a request's answer when the ledger turned it away.
    pub(crate) fn count_status(status: &str) {
        match status {
            "stale" => Self::Stale.count(),
            "duplicate" => Self::Duplicate.count(),
            _ => {}
        }
    }
}

/// The process's recorder, flushed after each invocation.
#[derive(Clone, Copy)]
pub(crate) struct Metrics(Option<&'static Collector>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Metrics").field(&self.0.is_some()).finish()
    }
}

impl Metrics {
    /// Installs the process's recorder, with `function_name` as the dimension. A process
    /// that has one already (a second runtime loop) keeps it, and this one flushes nothing.
    pub(crate) fn install(function_name: String) -> Self {
        match Builder::new()
            .cloudwatch_namespace(NAMESPACE)
            .with_dimension(DIMENSION, function_name)
            .init()
        {
            Ok(collector) => {
                for metric in Metric::ALL {
                    metrics::describe_counter!(metric.name(), Unit::Count, metric.name());
                }
                Self(Some(collector))
            }
            Err(error) => {
                tracing::warn!(%error, "a metrics recorder is already installed; this one is off");
                Self(None)
            }
        }
    }

    /// Writes what the invocation counted as one EMF line on standard output (nothing
    /// when it counted nothing), with the request id to find its log lines by.
    pub(crate) fn flush(self, request_id: &str) {
        let Some(collector) = self.0 else { return };
        collector.set_property("requestId", request_id.to_owned());
        // Locked for the whole document, so that no other log line splits it.
        if let Err(error) = collector.flush(std::io::stdout().lock()) {
            tracing::warn!(%error, "the metrics line could not be written");
        }
    }
}
