//! The `aws:identitystore:enterprise` extension: CreateUser's `Extensions`, the names
//! DescribeUser and ListUsers take to return it, and UpdateUser's operations on it.
//!
//! The model gives the extension names' pattern and the map's size; the document
//! itself is an untyped `Document`. Its members are the ones the API reference's
//! CreateUser and DescribeUser examples show (`employeeNumber`, `costCenter`,
//! `organization`, `division`, `department`, `manager`), each checked as a
//! `SensitiveStringType` but `manager`, a structure `{"value": <user id>}`. UpdateUser addresses one member as
//! `aws:identitystore:enterprise.<member>`; any other form (the whole extension, a
//! member's sub-path, another extension) is a ValidationException. docs/contract.md,
//! "The enterprise extension", says which of this is documented and which is a choice.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::validate::{Input, SENSITIVE, text};

/// The one extension the service supports.
pub const ENTERPRISE: &str = "aws:identitystore:enterprise";
/// The member names of the enterprise extension whose values are text.
const TEXT_MEMBERS: [&str; 5] = ["employeeNumber", "costCenter", "organization", "division", "department"];
/// The member whose value is `{"value": <user id>}`.
const MANAGER: &str = "manager";

/// `ExtensionName` in the model.
static EXTENSION_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^aws:identitystore:[a-z]{1,20}$").expect("static pattern is valid"));

/// The record key the extensions are kept under, beside the API members.
pub const STORED: &str = "Extensions";

fn name(path: &str, value: &str) -> Result<(), ApiError> {
    text(path, value, 1, 50, &EXTENSION_NAME)?;
    if value == ENTERPRISE {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{path}: {ENTERPRISE} is the only supported extension name"
        )))
    }
}

fn member(member: &str, value: &Value) -> Result<Value, ApiError> {
    let path = format!("extensions.{ENTERPRISE}.{member}");
    match (member, value) {
        (m, Value::String(s)) if TEXT_MEMBERS.contains(&m) => {
            text(&path, s, 1, 1024, &SENSITIVE)?;
            Ok(value.clone())
        }
        (m, _) if TEXT_MEMBERS.contains(&m) => Err(ApiError::validation(format!("{path} must be a string"))),
        (MANAGER, Value::Object(fields)) => {
            let id = fields
                .get("value")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation(format!("{path}.value must be a string")))?;
            if fields.len() > 1 {
                return Err(ApiError::validation(format!("{path} may only hold value")));
            }
            text(&format!("{path}.value"), id, 1, 1024, &SENSITIVE)?;
            Ok(value.clone())
        }
        (MANAGER, _) => Err(ApiError::validation(format!("{path} must be a structure"))),
        _ => Err(ApiError::validation(format!(
            "{path} is not an attribute of the {ENTERPRISE} extension"
        ))),
    }
}

/// CreateUser's `Extensions`, checked, as they are stored; `None` when absent.
pub fn create(input: Input<'_>) -> Result<Option<Value>, ApiError> {
    let Some(value) = input.get("Extensions") else {
        return Ok(None);
    };
    let map = value
        .as_object()
        .ok_or_else(|| ApiError::serialization("Expected a map for Extensions"))?;
    if map.is_empty() || map.len() > 10 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'extensions' failed to satisfy constraint: Member must have length between 1 and 10",
        ));
    }
    let mut stored = Map::new();
    for (key, document) in map {
        name("extensions", key)?;
        let members = document
            .as_object()
            .ok_or_else(|| ApiError::validation(format!("extensions.{key} must be a structure")))?;
        let mut checked = Map::new();
        for (m, v) in members {
            checked.insert(m.clone(), member(m, v)?);
        }
        stored.insert(key.clone(), Value::Object(checked));
    }
    Ok(Some(Value::Object(stored)))
}

/// The extension names DescribeUser or ListUsers asks for (`Extensions`), checked.
pub fn asked(input: Input<'_>) -> Result<Vec<String>, ApiError> {
    let Some(names) = input.array("Extensions")? else {
        return Ok(Vec::new());
    };
    if names.is_empty() || names.len() > 10 {
        return Err(ApiError::validation(
            "1 validation error detected: Value at 'extensions' failed to satisfy constraint: Member must have length between 1 and 10",
        ));
    }
    names
        .iter()
        .map(|n| {
            let n = n
                .as_str()
                .ok_or_else(|| ApiError::serialization("Expected a string in Extensions"))?;
            name("extensions", n)?;
            Ok(n.to_owned())
        })
        .collect()
}

/// The stored extensions a reply carries: only the asked ones the user has.
pub fn answer(stored: Option<&Value>, asked: &[String]) -> Option<Value> {
    let stored = stored?.as_object()?;
    let shown: Map<String, Value> = stored
        .iter()
        .filter(|(k, v)| asked.contains(k) && v.as_object().is_some_and(|m| !m.is_empty()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!shown.is_empty()).then_some(Value::Object(shown))
}

/// An UpdateUser operation, when its path names an extension (`<a>:<b>:<c>...`):
/// applied to `attributes`' stored extensions. `Ok(false)`: not an extension path.
pub fn update(attributes: &mut Map<String, Value>, path: &str, value: Option<&Value>) -> Result<bool, ApiError> {
    let (extension, rest) = path.split_once('.').unwrap_or((path, ""));
    if !extension.contains(':') {
        return Ok(false);
    }
    name("attributePath", extension)?;
    if rest.is_empty() || rest.contains('.') {
        return Err(ApiError::validation(format!(
            "{path} is not an attribute that can be updated: name one member of the extension, as {ENTERPRISE}.<member>"
        )));
    }
    let stored = attributes
        .entry(STORED)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ApiError::validation("extensions are malformed"))?;
    let document = stored
        .entry(extension)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| ApiError::validation("the extension is malformed"))?;
    match value {
        None if TEXT_MEMBERS.contains(&rest) || rest == MANAGER => {
            document.remove(rest);
        }
        None => {
            return Err(ApiError::validation(format!(
                "{path} is not an attribute of the {ENTERPRISE} extension"
            )));
        }
        Some(value) => {
            let value = member(rest, value)?;
            document.insert(rest.to_owned(), value);
        }
    }
    Ok(true)
}
