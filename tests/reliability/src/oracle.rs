//! An independent reading of the contract's validation rules (docs/contract.md,
//! "How a function receives an event" and "Validation"), written from the document,
//! not from `turnstile::request`: the property tests check that a handler accepts an
//! event exactly when this says the contract does.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::harness::Function;

static USER_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$").expect("static regex is valid"));
static TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\t\n\r \u{a0}\u{3000}]+$").expect("static regex is valid")
});

/// The envelope `time` values the suite's generators use that chrono reads.
pub const VALID_TIMES: [&str; 2] = ["2026-11-30T09:00:00Z", "2026-11-30T10:00:00+01:00"];

/// Most groups per onboard-user request and members per sync-group request.
pub const MAX_GROUPS: usize = 100;
pub const MAX_MEMBERS: usize = 10_000;

/// Where serde's decoding is looser than the contract's "types are strict".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deviation {
    /// A JSON array of a struct's values, in field order, in place of the object.
    ArrayAsObject,
    /// An enum given as a one-entry object `{"<variant>": null}`.
    EnumAsMap,
}

/// How loosely to read.
#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    arrays_as_objects: bool,
    enums_as_maps: bool,
}

/// Whether the contract accepts `payload` as a request of `function`.
pub fn accepts(function: Function, payload: &Value) -> bool {
    Reading::default().accepts(function, payload)
}

/// Whether a decoder with serde's known deviations accepts `payload`, and the deviation
/// it relies on when the contract alone would not.
pub fn accepts_as_serde_does(function: Function, payload: &Value) -> (bool, Option<Deviation>) {
    if accepts(function, payload) {
        return (true, None);
    }
    let arrays = Reading {
        arrays_as_objects: true,
        enums_as_maps: false,
    };
    if arrays.accepts(function, payload) {
        return (true, Some(Deviation::ArrayAsObject));
    }
    let both = Reading {
        arrays_as_objects: true,
        enums_as_maps: true,
    };
    if both.accepts(function, payload) {
        return (true, Some(Deviation::EnumAsMap));
    }
    (false, None)
}

/// The fields of each request struct, in declaration order (serde's sequence form).
const USER_FIELDS: [&str; 18] = [
    "userName",
    "displayName",
    "name",
    "nickName",
    "profileUrl",
    "emails",
    "addresses",
    "phoneNumbers",
    "userType",
    "title",
    "preferredLanguage",
    "locale",
    "timezone",
    "website",
    "birthdate",
    "photos",
    "roles",
    "enterprise",
];
const NAME_FIELDS: [&str; 6] = [
    "givenName",
    "familyName",
    "middleName",
    "formatted",
    "honorificPrefix",
    "honorificSuffix",
];
const CONTACT_FIELDS: [&str; 3] = ["value", "type", "primary"];
const ADDRESS_FIELDS: [&str; 8] = [
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "formatted",
    "type",
    "primary",
];
const GROUP_FIELDS: [&str; 2] = ["displayName", "description"];
/// The enterprise extension's text members; `manager` is a userName.
const ENTERPRISE_TEXTS: [&str; 5] = ["employeeNumber", "costCenter", "organization", "division", "department"];

impl Reading {
    fn accepts(self, function: Function, payload: &Value) -> bool {
        let Some(request) = request_of(payload) else {
            return false;
        };
        match function {
            Function::OnboardUser => self.onboard(request),
            Function::OffboardUser => self.offboard(request),
            Function::SyncGroup => self.sync(request),
        }
    }

    /// An object, or (read loosely) an array of exactly `fields.len()` values.
    fn object(self, value: &Value, fields: &[&str], check: impl Fn(&Map<String, Value>) -> bool) -> bool {
        match value {
            Value::Object(map) => check(map),
            Value::Array(items) if self.arrays_as_objects && items.len() == fields.len() => {
                let map: Map<String, Value> = fields
                    .iter()
                    .zip(items)
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect();
                check(&map)
            }
            _ => false,
        }
    }

    fn one_item(self, value: &Value, fields: &[&str], check: impl Fn(&Map<String, Value>) -> bool) -> bool {
        value
            .as_array()
            .is_some_and(|items| items.len() == 1 && self.object(&items[0], fields, &check))
    }

    fn variant(self, value: &Value, variants: &[&str]) -> bool {
        match value {
            Value::String(s) => variants.contains(&s.as_str()),
            Value::Object(map) if self.enums_as_maps && map.len() == 1 => {
                map.iter().all(|(k, v)| variants.contains(&k.as_str()) && v.is_null())
            }
            _ => false,
        }
    }

    fn onboard(self, request: &Map<String, Value>) -> bool {
        let user = |u: &Map<String, Value>| {
            required(u, "userName", user_name)
                && required(u, "displayName", text)
                && required(u, "name", |n| {
                    self.object(n, &NAME_FIELDS, |n| {
                        required(n, "givenName", text)
                            && required(n, "familyName", text)
                            && ["middleName", "formatted", "honorificPrefix", "honorificSuffix"]
                                .iter()
                                .all(|k| optional(n, k, text))
                    })
                })
                && [
                    "nickName",
                    "profileUrl",
                    "userType",
                    "title",
                    "preferredLanguage",
                    "locale",
                    "timezone",
                    "website",
                ]
                .iter()
                .all(|k| optional(u, k, text))
                && optional(u, "birthdate", date)
                && optional(u, "emails", |v| self.one_item(v, &CONTACT_FIELDS, contact))
                && optional(u, "phoneNumbers", |v| self.one_item(v, &CONTACT_FIELDS, contact))
                && optional(u, "addresses", |v| self.one_item(v, &ADDRESS_FIELDS, address))
                && optional(u, "photos", photos)
                && optional(u, "roles", |v| {
                    v.as_array()
                        .is_some_and(|items| items.len() == 1 && items[0].as_object().is_some_and(role))
                })
                && optional(u, "enterprise", |v| v.as_object().is_some_and(enterprise))
        };
        required(request, "user", |v| self.object(v, &USER_FIELDS, user))
            && optional(request, "groups", |v| names(v, MAX_GROUPS, text))
    }

    fn offboard(self, request: &Map<String, Value>) -> bool {
        required(request, "userName", user_name)
            && optional(request, "mode", |v| self.variant(v, &["delete", "revoke"]))
    }

    fn sync(self, request: &Map<String, Value>) -> bool {
        required(request, "group", |g| {
            self.object(g, &GROUP_FIELDS, |g| {
                required(g, "displayName", text) && optional(g, "description", text)
            })
        }) && required(request, "members", |v| names(v, MAX_MEMBERS, user_name))
            && optional(request, "mode", |v| self.variant(v, &["replace", "add", "remove"]))
            && optional(request, "dryRun", boolean)
            && optional(request, "maxRemovals", |v| {
                v.as_u64().is_some_and(|n| u32::try_from(n).is_ok())
            })
    }
}

/// The request inside either event form, if the form itself is acceptable.
fn request_of(payload: &Value) -> Option<&Map<String, Value>> {
    let map = payload.as_object()?;
    if !(map.contains_key("detail-type") && map.contains_key("detail")) {
        return Some(map);
    }
    // The envelope's own members, as EventBridge defines them; its `id` is the event's
    // id unless the detail gives one, and then follows the contract's `eventId` rules.
    let id_rule = |v: &Value| {
        let detail_has_id = map
            .get("detail")
            .and_then(|d| d.get("eventId"))
            .is_some_and(|id| !id.is_null());
        v.is_string() && (detail_has_id || event_id(v))
    };
    let ok = map.get("detail-type").is_some_and(Value::is_string)
        && map.get("source").is_some_and(Value::is_string)
        && ["version", "account", "region"]
            .iter()
            .all(|k| optional(map, k, Value::is_string))
        && optional(map, "id", id_rule)
        && optional(map, "time", |v| v.as_str().is_some_and(|t| VALID_TIMES.contains(&t)))
        && optional(map, "resources", |v| {
            v.as_array().is_some_and(|items| items.iter().all(Value::is_string))
        });
    if !ok {
        return None;
    }
    map.get("detail")?.as_object()
}

/// An event id (docs/contract.md, "Event time and id"): 1–256 code points, not only
/// white space, no control character.
fn event_id(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        (1..=256).contains(&s.chars().count()) && !s.trim().is_empty() && !s.chars().any(char::is_control)
    })
}

/// Absent and `null` mean absent; otherwise `check` decides.
fn optional(map: &Map<String, Value>, key: &str, check: impl Fn(&Value) -> bool) -> bool {
    match map.get(key) {
        None | Some(Value::Null) => true,
        Some(value) => check(value),
    }
}

fn required(map: &Map<String, Value>, key: &str, check: impl Fn(&Value) -> bool) -> bool {
    map.get(key).is_some_and(|v| !v.is_null() && check(v))
}

/// userName: 1–128 code points of letters, marks, symbols, numbers, punctuation; not
/// reserved.
fn user_name(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        (1..=128).contains(&s.chars().count())
            && USER_NAME.is_match(s)
            && s != "Administrator"
            && s != "AWSAdministrators"
    })
}

/// Any other string: 1–1024 code points of the allowed characters, not only whitespace.
fn text(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        (1..=1024).contains(&s.chars().count())
            && TEXT.is_match(s)
            && !s
                .chars()
                .all(|c| matches!(c, '\t' | '\n' | '\r' | ' ' | '\u{a0}' | '\u{3000}'))
    })
}

fn boolean(value: &Value) -> bool {
    value.is_boolean()
}

fn contact(item: &Map<String, Value>) -> bool {
    required(item, "value", text) && optional(item, "type", text) && optional(item, "primary", boolean)
}

fn address(item: &Map<String, Value>) -> bool {
    let mut texts = ADDRESS_FIELDS.iter().filter(|k| **k != "primary");
    texts.clone().any(|k| item.get(*k).is_some_and(|v| !v.is_null()))
        && texts.all(|k| optional(item, k, text))
        && optional(item, "primary", boolean)
}

/// `YYYY-MM-DD`, a day that exists (the contract's reading of the API reference).
fn date(value: &Value) -> bool {
    static DATE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"^(\d{4})-(\d{2})-(\d{2})$").expect("static regex is valid"));
    let Some(parts) = value.as_str().and_then(|s| DATE.captures(s)) else {
        return false;
    };
    let number = |i: usize| parts[i].parse::<u32>().unwrap_or_default();
    let (year, month, day) = (number(1), number(2), number(3));
    let february = if year % 400 == 0 || (year % 4 == 0 && year % 100 != 0) {
        29
    } else {
        28
    };
    let days = [31, february, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    (1..=12).contains(&month) && day >= 1 && day <= days[month as usize - 1]
}

/// 1 to 3 objects, each with a `value`, at most one of them primary.
fn photos(value: &Value) -> bool {
    let Some(items) = value.as_array() else { return false };
    let each = |item: &Value| {
        item.as_object().is_some_and(|p| {
            required(p, "value", text)
                && optional(p, "type", text)
                && optional(p, "display", text)
                && optional(p, "primary", boolean)
        })
    };
    let primaries = items
        .iter()
        .filter(|p| p.get("primary") == Some(&Value::Bool(true)))
        .count();
    (1..=3).contains(&items.len()) && items.iter().all(each) && primaries <= 1
}

fn role(item: &Map<String, Value>) -> bool {
    ["value", "type"]
        .iter()
        .any(|k| item.get(*k).is_some_and(|v| !v.is_null()))
        && optional(item, "value", text)
        && optional(item, "type", text)
        && optional(item, "primary", boolean)
}

fn enterprise(members: &Map<String, Value>) -> bool {
    ENTERPRISE_TEXTS.iter().all(|k| optional(members, k, text)) && optional(members, "manager", user_name)
}

fn names(value: &Value, max: usize, each: impl Fn(&Value) -> bool) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.len() <= max && items.iter().all(each))
}
