//! When an event happened and which event it is: what the ledger orders and
//! de-duplicates by (`detail.occurredAt` or the envelope's `time`; `detail.eventId` or
//! the envelope's `id`).

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};

use crate::Error;

/// An event's identity as the contract reads it; either part may be missing (a bare
/// `detail` without `occurredAt` or `eventId`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventMeta {
    pub occurred_at: Option<EventTime>,
    pub event_id: Option<String>,
}

/// An instant, to the nanosecond, as RFC 3339 gave it (any offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventTime(DateTime);

impl EventTime {
    /// Nanoseconds since the Unix epoch, zero-padded to a fixed width so that the
    /// ledger's string comparisons order instants correctly (from 1970 to 2286).
    pub(crate) fn sortable(self) -> String {
        let nanos = i128::from(self.0.secs()) * 1_000_000_000 + i128::from(self.0.subsec_nanos());
        format!("{:020}", nanos.max(0))
    }

    /// RFC 3339 in UTC, as stored in the audit trail.
    pub(crate) fn rfc3339(self) -> String {
        self.0
            .fmt(Format::DateTime)
            .unwrap_or_else(|_| self.0.secs().to_string())
    }

    fn parse(path: &str, value: &Value) -> Result<Self, Error> {
        value
            .as_str()
            .and_then(|text| DateTime::from_str(text, Format::DateTimeWithOffset).ok())
            .map(Self)
            .ok_or_else(|| Error::InvalidEvent(format!("{path}: must be an RFC 3339 date-time")))
    }
}

/// Most characters of an event id the ledger keeps.
const MAX_EVENT_ID: usize = 256;

fn event_id(path: &str, value: &Value) -> Result<String, Error> {
    match value.as_str() {
        Some(id)
            if (1..=MAX_EVENT_ID).contains(&id.chars().count())
                && !id.trim().is_empty()
                && !id.chars().any(char::is_control) =>
        {
            Ok(id.to_owned())
        }
        _ => Err(Error::InvalidEvent(format!(
            "{path}: must be 1 to {MAX_EVENT_ID} characters, not blank, no control characters"
        ))),
    }
}

/// The event's time and id from the detail, falling back to the envelope's.
pub(crate) fn meta(envelope: Option<&Map<String, Value>>, detail: &Value) -> Result<EventMeta, Error> {
    // A null counts as absent, in the detail and in the envelope alike.
    let given = |key: &str| detail.get(key).filter(|v| !v.is_null());
    let enveloped = |key: &str| envelope.and_then(|e| e.get(key)).filter(|v| !v.is_null());
    let occurred_at = match (given("occurredAt"), enveloped("time")) {
        (Some(at), _) => Some(EventTime::parse("occurredAt", at)?),
        (None, Some(time)) => Some(EventTime::parse("time", time)?),
        (None, None) => None,
    };
    let event_id = match (given("eventId"), enveloped("id")) {
        (Some(id), _) => Some(event_id("eventId", id)?),
        (None, Some(id)) => Some(event_id("id", id)?),
        (None, None) => None,
    };
    Ok(EventMeta { occurred_at, event_id })
}
