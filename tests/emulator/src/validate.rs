//! Request checks with the API model's limits and patterns (botocore's
//! `identitystore/2020-06-15` model), and the JSON-shape checks the service does first.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::ApiError;

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern is valid")
}

pub static IDENTITY_STORE_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(arn:aws[a-z-]*:identitystore::\d{12}:identitystore/)?(d-[0-9a-f]{10}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$",
    )
});
pub static RESOURCE_ID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(arn:aws[a-z-]*:identitystore:::(user|group|membership)/)?([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$",
    )
});
pub static USER_NAME: LazyLock<Regex> = LazyLock::new(|| re(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$"));
pub static SENSITIVE: LazyLock<Regex> =
    LazyLock::new(|| re("^[\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}\t\n\r \u{a0}\u{3000}]+$"));
pub static ATTRIBUTE_PATH: LazyLock<Regex> =
    LazyLock::new(|| re(r"^(?:\p{L}+:\p{L}+:\p{L}+(?:\.\p{L}+){0,3}|\p{L}+(?:\.\p{L}+){0,2})$"));
pub static EXTERNAL_ID_PART: LazyLock<Regex> = LazyLock::new(|| re(r"^[\p{L}\p{M}\p{S}\p{N}\p{P}]+$"));
pub static VPC_ARN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"^(arn:aws(-[a-z]{1,5}){0,3}:ec2:[a-z]{2,4}(-[a-z]{1,10}){1,3}-[0-9]{1,2}:[0-9]{12}:vpc/)?vpc-([0-9a-f]){8}(([0-9a-f]){9})?$",
    )
});
pub static IP_CIDR: LazyLock<Regex> = LazyLock::new(|| {
    re(concat!(
        r"^((([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])(\/(3[0-2]|[1-2][0-9]|[0-9]))?",
        r"|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}",
        r"|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}",
        r"|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}",
        r"|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))(\/(12[0-8]|1[0-1][0-9]|[1-9][0-9]|[0-9]))?)$",
    ))
});
pub static NEXT_TOKEN: LazyLock<Regex> = LazyLock::new(|| re(r"^[-a-zA-Z0-9+=/:_]*$"));

/// A request object with typed accessors that fail as the service would.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a>(pub &'a Map<String, Value>);

impl<'a> Input<'a> {
    pub fn get(self, key: &str) -> Option<&'a Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    pub fn string(self, key: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::serialization(format!("Expected a string for {key}"))),
        }
    }

    pub fn required_string(self, key: &str) -> Result<&'a str, ApiError> {
        self.string(key)?.ok_or_else(|| missing(key))
    }

    pub fn object(self, key: &str) -> Result<Option<Input<'a>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Input(map))),
            Some(_) => Err(ApiError::serialization(format!("Expected a structure for {key}"))),
        }
    }

    pub fn required_object(self, key: &str) -> Result<Input<'a>, ApiError> {
        self.object(key)?.ok_or_else(|| missing(key))
    }

    pub fn array(self, key: &str) -> Result<Option<&'a Vec<Value>>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(ApiError::serialization(format!("Expected a list for {key}"))),
        }
    }

    pub fn integer(self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::serialization(format!("Expected an integer for {key}"))),
        }
    }
}

pub fn missing(key: &str) -> ApiError {
    ApiError::validation(format!(
        "1 validation error detected: Value null at '{key}' failed to satisfy constraint: Member must not be null"
    ))
}

/// A string within `min..=max` characters matching `pattern`.
pub fn text(key: &str, value: &str, min: usize, max: usize, pattern: &Regex) -> Result<(), ApiError> {
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{key}' failed to satisfy constraint: Member must have length between {min} and {max}"
        )));
    }
    if !pattern.is_match(value) {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{key}' failed to satisfy constraint: Member must satisfy regular expression pattern: {}",
            pattern.as_str()
        )));
    }
    Ok(())
}

/// An optional `SensitiveStringType` member.
pub fn sensitive(input: Input<'_>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match input.string(key)? {
        None => Ok(None),
        Some(value) => {
            text(path, value, 1, 1024, &SENSITIVE)?;
            Ok(Some(value.to_owned()))
        }
    }
}

pub fn resource_id(key: &str, value: &str) -> Result<String, ApiError> {
    text(key, value, 1, 100, &RESOURCE_ID)?;
    // An ARN names the same resource as its trailing id.
    Ok(value.rsplit('/').next().unwrap_or(value).to_owned())
}

/// An optional list of 1 to 50 strings, each `min..=max` characters matching `pattern`.
pub fn string_list(
    input: Input<'_>,
    key: &str,
    path: &str,
    (min, max): (usize, usize),
    pattern: &Regex,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(items) = input.array(key)? else {
        return Ok(None);
    };
    if items.is_empty() || items.len() > 50 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length between 1 and 50"
        )));
    }
    items
        .iter()
        .map(|item| {
            let item = item
                .as_str()
                .ok_or_else(|| ApiError::serialization(format!("Expected a string in {key}")))?;
            text(path, item, min, max, pattern)?;
            Ok(item.to_owned())
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

pub fn max_results(input: Input<'_>) -> Result<usize, ApiError> {
    match input.integer("MaxResults")? {
        None => Ok(100),
        Some(n) if (1..=100).contains(&n) => Ok(usize::try_from(n).unwrap_or(100)),
        Some(_) => Err(ApiError::validation(
            "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100",
        )),
    }
}
