//! The identity store's data and the operations on it.
//!
//! Users and groups are kept as the API's own JSON members (PascalCase), so Describe
//! and List answers are the stored object plus the service-managed fields.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::error::ApiError;
use crate::extension;
use crate::validate::{
    ATTRIBUTE_PATH, EXTERNAL_ID_PART, IDENTITY_STORE_ID, IP_CIDR, Input, NEXT_TOKEN, SENSITIVE, USER_NAME, VPC_ARN,
    max_results, missing, resource_id, sensitive, string_list, text,
};

/// The AWS account the emulated identity store belongs to, in its ARN.
pub const ACCOUNT_ID: &str = "123456789012";

/// Operations that change the store: the ones CONCURRENT_MODIFICATION faults apply to.
pub const WRITES: [&str; 9] = [
    "CreateUser",
    "UpdateUser",
    "DeleteUser",
    "CreateGroup",
    "UpdateGroup",
    "DeleteGroup",
    "CreateGroupMembership",
    "DeleteGroupMembership",
    "UpdateIdentityStore",
];

/// Every operation the emulator implements.
pub const OPERATIONS: [&str; 22] = [
    "CreateUser",
    "DescribeUser",
    "UpdateUser",
    "DeleteUser",
    "ListUsers",
    "GetUserId",
    "CreateGroup",
    "DescribeGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "GetGroupId",
    "CreateGroupMembership",
    "DescribeGroupMembership",
    "DeleteGroupMembership",
    "GetGroupMembershipId",
    "ListGroupMemberships",
    "ListGroupMembershipsForMember",
    "IsMemberInGroups",
    "DescribeIdentityStore",
    "ListIdentityStores",
    "UpdateIdentityStore",
];

/// The user statuses the model knows (`UserStatus`).
pub const USER_STATUSES: [&str; 2] = ["ENABLED", "DISABLED"];

/// The service's rules that AWS leaves open or that tests want to vary; see
/// [`crate::Options`] for what each means.
// Independent switches, one per undocumented or optional behaviour.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rules {
    /// No two users share an email address (compared case-insensitively).
    pub unique_emails: bool,
    /// UserName and group DisplayName compare without regard to case.
    pub case_insensitive_names: bool,
    /// UpdateUser may set `userStatus`.
    pub user_status_updatable: bool,
    /// New resource ids are bare UUIDs, as in a store migrated from the legacy SSO
    /// identity store, instead of `<ten digits>-<UUID>`.
    pub plain_uuid_ids: bool,
    /// Deleting a user, group or membership that does not exist succeeds.
    pub idempotent_deletes: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Self {
            unique_emails: true,
            case_insensitive_names: false,
            user_status_updatable: false,
            plain_uuid_ids: false,
            idempotent_deletes: false,
        }
    }
}

/// The key a unique name is indexed under.
fn fold(case_insensitive: bool, name: &str) -> String {
    if case_insensitive {
        name.to_lowercase()
    } else {
        name.to_owned()
    }
}

/// A user's email values, folded: the keys of the email index.
fn email_keys(attributes: &Map<String, Value>) -> BTreeSet<String> {
    attributes
        .get("Emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("Value").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect()
}

const RESERVED_NAMES: [&str; 2] = ["Administrator", "AWSAdministrators"];
const USER_STRINGS: [&str; 10] = [
    "DisplayName",
    "NickName",
    "ProfileUrl",
    "UserType",
    "Title",
    "PreferredLanguage",
    "Locale",
    "Timezone",
    "Website",
    "Birthdate",
];
const NAME_PARTS: [&str; 6] = [
    "Formatted",
    "FamilyName",
    "GivenName",
    "MiddleName",
    "HonorificPrefix",
    "HonorificSuffix",
];
/// Each multi-valued attribute: its item fields, and those the model requires.
const MULTI_VALUED: [(&str, &[&str], &[&str]); 5] = [
    ("Emails", &["Value", "Type", "Primary"], &[]),
    ("PhoneNumbers", &["Value", "Type", "Primary"], &[]),
    (
        "Addresses",
        &[
            "StreetAddress",
            "Locality",
            "Region",
            "PostalCode",
            "Country",
            "Formatted",
            "Type",
            "Primary",
        ],
        &[],
    ),
    ("Photos", &["Value", "Type", "Display", "Primary"], &["Value"]),
    ("Roles", &["Value", "Type", "Primary"], &[]),
];

/// A user or group: its API members and the service-managed fields.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub attributes: Map<String, Value>,
    pub external_ids: Vec<Value>,
    pub revision: u64,
    pub created_at: f64,
    pub updated_at: f64,
}

/// A group membership.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Membership {
    pub seq: u64,
    pub group_id: String,
    pub user_id: String,
}

/// One identity store. Indexes are rebuilt after loading a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub identity_store_id: String,
    pub users: BTreeMap<String, Record>,
    pub groups: BTreeMap<String, Record>,
    pub memberships: BTreeMap<String, Membership>,
    /// Set by UpdateIdentityStore: the `NetworkConfigurationDetails` DescribeIdentityStore
    /// returns.
    #[serde(default)]
    pub network_configuration: Option<Value>,
    next_seq: u64,
    id_seed: u64,
    #[serde(skip)]
    rules: Rules,
    #[serde(skip)]
    index: Index,
}

#[derive(Debug, Clone, Default)]
struct Index {
    users_by_seq: BTreeMap<u64, String>,
    groups_by_seq: BTreeMap<u64, String>,
    user_by_name: HashMap<String, String>,
    group_by_name: HashMap<String, String>,
    /// Folded email value → the users that have it.
    users_by_email: HashMap<String, BTreeSet<String>>,
    membership_by_pair: HashMap<(String, String), String>,
    by_group: BTreeMap<(String, u64), String>,
    by_member: BTreeMap<(String, u64), String>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// `first.rest` with the first letter of each segment upper-cased: the API's member
/// names for an attribute path (`name.givenName` is `Name.GivenName`).
fn member_path(path: &str) -> Vec<String> {
    path.split('.')
        .map(|segment| {
            let mut chars = segment.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect()
}

fn arn(kind: &str, id: &str) -> String {
    format!("arn:aws:identitystore:::{kind}/{id}")
}

fn token(seq: u64) -> String {
    format!("v1:{seq:016x}")
}

fn after_token(input: Input<'_>) -> Result<Option<u64>, ApiError> {
    let Some(raw) = input.string("NextToken")? else {
        return Ok(None);
    };
    let invalid = || ApiError::validation("The NextToken is invalid.");
    if raw.is_empty() || raw.len() > 65535 || !NEXT_TOKEN.is_match(raw) {
        return Err(invalid());
    }
    let hex = raw.strip_prefix("v1:").ok_or_else(invalid)?;
    u64::from_str_radix(hex, 16).map(Some).map_err(|_| invalid())
}

impl Store {
    pub fn new(identity_store_id: &str, seed: u64) -> Self {
        Self {
            identity_store_id: identity_store_id.to_owned(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            memberships: BTreeMap::new(),
            network_configuration: None,
            next_seq: 1,
            id_seed: seed,
            rules: Rules::default(),
            index: Index::default(),
        }
    }

    /// This store under `rules` (re-indexed, as case-insensitivity changes the keys).
    #[must_use]
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.set_rules(rules);
        self
    }

    /// Changes the rules and re-indexes.
    pub fn set_rules(&mut self, rules: Rules) {
        self.rules = rules;
        self.reindex();
    }

    pub const fn rules(&self) -> Rules {
        self.rules
    }

    fn name_key(&self, name: &str) -> String {
        fold(self.rules.case_insensitive_names, name)
    }

    /// A uniqueness conflict when unique emails are on and another user than
    /// `except` has one of `keys`. The message never carries the value.
    fn check_emails(&self, keys: &BTreeSet<String>, except: Option<&str>) -> Result<(), ApiError> {
        if !self.rules.unique_emails {
            return Ok(());
        }
        let taken = keys.iter().any(|key| {
            self.index
                .users_by_email
                .get(key)
                .is_some_and(|ids| ids.iter().any(|id| Some(id.as_str()) != except))
        });
        if taken {
            Err(ApiError::uniqueness(
                "Duplicate value for a unique attribute: emails.value",
            ))
        } else {
            Ok(())
        }
    }

    fn index_emails(&mut self, id: &str, keys: BTreeSet<String>) {
        for key in keys {
            self.index.users_by_email.entry(key).or_default().insert(id.to_owned());
        }
    }

    fn unindex_emails(&mut self, id: &str, keys: &BTreeSet<String>) {
        for key in keys {
            if let Some(ids) = self.index.users_by_email.get_mut(key) {
                ids.remove(id);
                if ids.is_empty() {
                    self.index.users_by_email.remove(key);
                }
            }
        }
    }

    /// Rebuilds the lookup indexes from the records (after loading a snapshot).
    pub fn reindex(&mut self) {
        let mut index = Index::default();
        let key = |name: &str| fold(self.rules.case_insensitive_names, name);
        for (id, user) in &self.users {
            index.users_by_seq.insert(user.seq, id.clone());
            if let Some(name) = user.attributes.get("UserName").and_then(Value::as_str) {
                index.user_by_name.insert(key(name), id.clone());
            }
            for email in email_keys(&user.attributes) {
                index.users_by_email.entry(email).or_default().insert(id.clone());
            }
        }
        for (id, group) in &self.groups {
            index.groups_by_seq.insert(group.seq, id.clone());
            if let Some(name) = group.attributes.get("DisplayName").and_then(Value::as_str) {
                index.group_by_name.insert(key(name), id.clone());
            }
        }
        for (id, m) in &self.memberships {
            index
                .membership_by_pair
                .insert((m.group_id.clone(), m.user_id.clone()), id.clone());
            index.by_group.insert((m.group_id.clone(), m.seq), id.clone());
            index.by_member.insert((m.user_id.clone(), m.seq), id.clone());
        }
        self.index = index;
    }

    fn seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A new resource id in the service's form: ten hex digits, then a UUID (or the
    /// bare UUID, under [`Rules::plain_uuid_ids`]).
    fn new_id(&mut self) -> String {
        let seq = self.seq();
        let mut rng = fastrand::Rng::with_seed(self.id_seed ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let hex = |rng: &mut fastrand::Rng, n: usize| -> String {
            (0..n)
                .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let prefix = if self.rules.plain_uuid_ids {
            String::new()
        } else {
            let digits = self
                .identity_store_id
                .strip_prefix("d-")
                .map_or_else(|| hex(&mut rng, 10), str::to_owned);
            format!("{digits}-")
        };
        format!(
            "{prefix}{}-{}-4{}-{}-{}",
            hex(&mut rng, 8),
            hex(&mut rng, 4),
            hex(&mut rng, 3),
            hex(&mut rng, 4),
            hex(&mut rng, 12)
        )
    }

    fn check_store(&self, input: Input<'_>) -> Result<(), ApiError> {
        let id = input.required_string("IdentityStoreId")?;
        text("identityStoreId", id, 1, 93, &IDENTITY_STORE_ID)?;
        let bare = id.rsplit('/').next().unwrap_or(id);
        if bare == self.identity_store_id {
            Ok(())
        } else {
            Err(ApiError::not_found("IDENTITY_STORE", Some(bare)))
        }
    }

    /// Runs one operation. The caller has checked that `operation` is one of
    /// [`OPERATIONS`].
    pub fn execute(&mut self, operation: &str, body: &Map<String, Value>) -> Result<Value, ApiError> {
        let input = Input(body);
        if operation == "ListIdentityStores" {
            return self.list_identity_stores(input);
        }
        self.check_store(input)?;
        match operation {
            "CreateUser" => self.create_user(input),
            "DescribeUser" => self.describe_user(input),
            "UpdateUser" => self.update_user(input),
            "DeleteUser" => self.delete_user(input),
            "ListUsers" => self.list_users(input),
            "GetUserId" => self.get_user_id(input),
            "CreateGroup" => self.create_group(input),
            "DescribeGroup" => self.describe_group(input),
            "UpdateGroup" => self.update_group(input),
            "DeleteGroup" => self.delete_group(input),
            "ListGroups" => self.list_groups(input),
            "GetGroupId" => self.get_group_id(input),
            "CreateGroupMembership" => self.create_membership(input),
            "DescribeGroupMembership" => self.describe_membership(input),
            "DeleteGroupMembership" => self.delete_membership(input),
            "GetGroupMembershipId" => self.get_membership_id(input),
            "ListGroupMemberships" => self.list_memberships(input),
            "ListGroupMembershipsForMember" => self.list_memberships_for_member(input),
            "IsMemberInGroups" => self.is_member_in_groups(input),
            "DescribeIdentityStore" => Ok(self.describe_identity_store()),
            "UpdateIdentityStore" => self.update_identity_store(input),
            other => Err(ApiError::unknown_operation(other)),
        }
    }

    // ---- users ----

    fn user_name(value: &str) -> Result<(), ApiError> {
        text("userName", value, 1, 128, &USER_NAME)?;
        if RESERVED_NAMES.contains(&value) {
            return Err(ApiError::validation(format!(
                "{value} is a reserved name and can't be used"
            )));
        }
        Ok(())
    }

    /// Checks and normalises one user attribute value given under API member `key`.
    fn user_attribute(key: &str, value: &Value) -> Result<Value, ApiError> {
        let path = key;
        if key == "UserName" {
            let name = value
                .as_str()
                .ok_or_else(|| ApiError::validation("userName must be a string"))?;
            Self::user_name(name)?;
            return Ok(value.clone());
        }
        if USER_STRINGS.contains(&key) {
            let s = value
                .as_str()
                .ok_or_else(|| ApiError::validation(format!("{path} must be a string")))?;
            text(path, s, 1, 1024, &SENSITIVE)?;
            return Ok(value.clone());
        }
        if key == "Name" {
            let parts = value
                .as_object()
                .ok_or_else(|| ApiError::validation("name must be a structure"))?;
            let mut name = Map::new();
            for (part, v) in parts {
                let part = member_path(part).concat();
                if !NAME_PARTS.contains(&part.as_str()) {
                    return Err(ApiError::validation(format!("name.{part} is not a name attribute")));
                }
                if v.is_null() {
                    continue;
                }
                let s = v
                    .as_str()
                    .ok_or_else(|| ApiError::validation(format!("name.{part} must be a string")))?;
                text(&format!("name.{part}"), s, 1, 1024, &SENSITIVE)?;
                name.insert(part, v.clone());
            }
            return Ok(Value::Object(name));
        }
        if let Some((_, fields, required)) = MULTI_VALUED.iter().find(|(k, ..)| *k == key) {
            let items = value
                .as_array()
                .ok_or_else(|| ApiError::validation(format!("{path} must be a list")))?;
            let max = if key == "Photos" { 3 } else { 1 };
            if items.is_empty() || items.len() > max {
                return Err(ApiError::validation(format!(
                    "1 validation error detected: Value at '{path}' failed to satisfy constraint: Member must have length between 1 and {max}"
                )));
            }
            let mut normalised = Vec::new();
            for item in items {
                let item = item
                    .as_object()
                    .ok_or_else(|| ApiError::validation(format!("{path} items must be structures")))?;
                let mut out = Map::new();
                for (field, v) in item {
                    let field = member_path(field).concat();
                    if !fields.contains(&field.as_str()) {
                        return Err(ApiError::validation(format!("{path}.{field} is not an attribute")));
                    }
                    match (field.as_str(), v) {
                        (_, Value::Null) => {}
                        ("Primary", Value::Bool(_)) => {
                            out.insert(field, v.clone());
                        }
                        ("Primary", _) => {
                            return Err(ApiError::validation(format!("{path}.Primary must be a boolean")));
                        }
                        (_, Value::String(s)) => {
                            text(&format!("{path}.{field}"), s, 1, 1024, &SENSITIVE)?;
                            out.insert(field, v.clone());
                        }
                        _ => return Err(ApiError::validation(format!("{path}.{field} must be a string"))),
                    }
                }
                if let Some(absent) = required.iter().find(|f| !out.contains_key(**f)) {
                    return Err(ApiError::validation(format!(
                        "1 validation error detected: Value null at '{path}.{}' failed to satisfy constraint: Member must not be null",
                        absent.to_lowercase()
                    )));
                }
                normalised.push(Value::Object(out));
            }
            return Ok(Value::Array(normalised));
        }
        Err(ApiError::validation(format!("{path} is not a user attribute")))
    }

    fn create_user(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let mut attributes = Map::new();
        for (key, value) in input.0 {
            if key == "IdentityStoreId" || key == extension::STORED || value.is_null() {
                continue;
            }
            if key == "UserName" && !value.is_string() {
                return Err(ApiError::serialization("Expected a string for UserName"));
            }
            attributes.insert(key.clone(), Self::user_attribute(key, value)?);
        }
        // IAM Identity Center requires these three, though the model leaves them
        // optional. The messages are the service's (as moto has them).
        let user_name = attributes
            .get("UserName")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("userName is a required attribute"))?
            .to_owned();
        let mut absent = Vec::new();
        if !attributes.contains_key("DisplayName") {
            absent.push("displayname");
        }
        match attributes.get("Name").and_then(Value::as_object) {
            Some(name) if !name.is_empty() => {
                if !name.contains_key("GivenName") {
                    absent.push("givenname");
                }
                if !name.contains_key("FamilyName") {
                    absent.push("familyname");
                }
            }
            _ => absent.push("name"),
        }
        if !absent.is_empty() {
            let message: Vec<String> = absent
                .iter()
                .map(|a| format!("{a}: The attribute {a} is required"))
                .collect();
            return Err(ApiError::validation(message.join(", ")));
        }
        if let Some(extensions) = extension::create(input)? {
            attributes.insert(extension::STORED.into(), extensions);
        }
        let user_name = self.name_key(&user_name);
        if self.index.user_by_name.contains_key(&user_name) {
            return Err(ApiError::uniqueness("Duplicate UserName"));
        }
        let emails = email_keys(&attributes);
        self.check_emails(&emails, None)?;
        let id = self.new_id();
        let seq = self.seq();
        let at = now();
        self.users.insert(
            id.clone(),
            Record {
                seq,
                attributes,
                external_ids: Vec::new(),
                revision: 1,
                created_at: at,
                updated_at: at,
            },
        );
        self.index.users_by_seq.insert(seq, id.clone());
        self.index.user_by_name.insert(user_name, id.clone());
        self.index_emails(&id, emails);
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "UserId": id, "UserArn": arn("user", &id), "Revision": "1" }),
        )
    }

    /// A user as DescribeUser and ListUsers return it, with the `asked` extensions it
    /// has (the service returns extensions only when asked).
    fn user_json(&self, id: &str, user: &Record, asked: &[String]) -> Value {
        let mut out = user.attributes.clone();
        match extension::answer(out.remove(extension::STORED).as_ref(), asked) {
            Some(extensions) => out.insert(extension::STORED.into(), extensions),
            None => None,
        };
        out.insert("IdentityStoreId".into(), json!(self.identity_store_id));
        out.insert("UserId".into(), json!(id));
        out.insert("UserArn".into(), json!(arn("user", id)));
        out.insert("Revision".into(), json!(user.revision.to_string()));
        out.entry("UserStatus").or_insert_with(|| json!("ENABLED"));
        out.insert("CreatedAt".into(), json!(user.created_at));
        out.insert("UpdatedAt".into(), json!(user.updated_at));
        out.insert("CreatedBy".into(), json!("turnstile-emulator"));
        out.insert("UpdatedBy".into(), json!("turnstile-emulator"));
        if !user.external_ids.is_empty() {
            out.insert("ExternalIds".into(), Value::Array(user.external_ids.clone()));
        }
        Value::Object(out)
    }

    fn user_id_of(&self, input: Input<'_>) -> Result<String, ApiError> {
        let id = resource_id("userId", input.required_string("UserId")?)?;
        if self.users.contains_key(&id) {
            Ok(id)
        } else {
            Err(ApiError::not_found("USER", Some(&id)))
        }
    }

    fn describe_user(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let id = self.user_id_of(input)?;
        let asked = extension::asked(input)?;
        Ok(self.user_json(&id, &self.users[&id], &asked))
    }

    fn check_revision(input: Input<'_>, record: &Record) -> Result<(), ApiError> {
        match input.string("Revision")? {
            Some(revision) if revision != record.revision.to_string() => Err(ApiError::concurrent_modification()),
            _ => Ok(()),
        }
    }

    fn operations(input: Input<'_>) -> Result<Vec<(String, Option<Value>)>, ApiError> {
        let operations = input.array("Operations")?.ok_or_else(|| missing("operations"))?;
        if operations.is_empty() || operations.len() > 100 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        operations
            .iter()
            .map(|op| {
                let op = op
                    .as_object()
                    .map(Input)
                    .ok_or_else(|| ApiError::serialization("Expected a structure for Operations"))?;
                let path = op.required_string("AttributePath")?;
                text("attributePath", path, 1, 255, &ATTRIBUTE_PATH)?;
                Ok((path.to_owned(), op.get("AttributeValue").cloned()))
            })
            .collect()
    }

    fn update_user(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let id = self.user_id_of(input)?;
        Self::check_revision(input, &self.users[&id])?;
        let operations = Self::operations(input)?;
        let mut attributes = self.users[&id].attributes.clone();
        for (path, value) in operations {
            if extension::update(&mut attributes, &path, value.as_ref())? {
                continue;
            }
            let members = member_path(&path);
            match (members.as_slice(), value) {
                ([key], None) if key == "UserName" || key == "DisplayName" => {
                    return Err(ApiError::validation(format!(
                        "{path} is required and cannot be removed"
                    )));
                }
                ([key], None) => {
                    if !(USER_STRINGS.contains(&key.as_str())
                        || key == "Name"
                        || MULTI_VALUED.iter().any(|(k, ..)| k == key))
                    {
                        return Err(ApiError::validation(format!("{path} is not a user attribute")));
                    }
                    attributes.remove(key);
                }
                ([key], Some(value)) if key == "UserStatus" && self.rules.user_status_updatable => {
                    if !value.as_str().is_some_and(|s| USER_STATUSES.contains(&s)) {
                        return Err(ApiError::validation("userStatus must be ENABLED or DISABLED"));
                    }
                    attributes.insert(key.clone(), value);
                }
                ([key], Some(value)) => {
                    let value = Self::user_attribute(key, &value)?;
                    attributes.insert(key.clone(), value);
                }
                ([parent, part], value) if parent == "Name" && NAME_PARTS.contains(&part.as_str()) => {
                    let name = attributes.entry("Name").or_insert_with(|| json!({}));
                    let name = name
                        .as_object_mut()
                        .ok_or_else(|| ApiError::validation("name is malformed"))?;
                    match value {
                        None => {
                            name.remove(part);
                        }
                        Some(Value::String(s)) => {
                            text(&path, &s, 1, 1024, &SENSITIVE)?;
                            name.insert(part.clone(), Value::String(s));
                        }
                        Some(_) => return Err(ApiError::validation(format!("{path} must be a string"))),
                    }
                }
                ([parent, ..], _) if MULTI_VALUED.iter().any(|(k, ..)| k == parent) => {
                    return Err(ApiError::validation(format!(
                        "Unsupported update operation on multi-value attribute {}, please provide full replacement of Multi-Value attribute types",
                        path.split('.').next().unwrap_or_default()
                    )));
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "{path} is not a user attribute that can be updated"
                    )));
                }
            }
        }
        let (old_emails, new_emails) = (email_keys(&self.users[&id].attributes), email_keys(&attributes));
        if new_emails != old_emails {
            self.check_emails(&new_emails, Some(&id))?;
        }
        let revision = commit_update(
            &mut self.users,
            &mut self.index.user_by_name,
            &id,
            attributes,
            ("UserName", "Duplicate UserName", self.rules.case_insensitive_names),
        )?;
        if new_emails != old_emails {
            self.unindex_emails(&id, &old_emails);
            self.index_emails(&id, new_emails);
        }
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "UserId": id, "UserArn": arn("user", &id), "Revision": revision }),
        )
    }

    /// `found`, or `None` when it is not found and deletes are idempotent.
    fn to_delete(&self, found: Result<String, ApiError>) -> Result<Option<String>, ApiError> {
        match found {
            Err(e) if self.rules.idempotent_deletes && e.kind == "ResourceNotFoundException" => Ok(None),
            found => found.map(Some),
        }
    }

    fn delete_user(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let Some(id) = self.to_delete(self.user_id_of(input))? else {
            return Ok(json!({}));
        };
        Self::check_revision(input, &self.users[&id])?;
        let user = self.users.remove(&id).expect("checked above");
        self.index.users_by_seq.remove(&user.seq);
        if let Some(name) = user.attributes.get("UserName").and_then(Value::as_str) {
            let key = self.name_key(name);
            self.index.user_by_name.remove(&key);
        }
        self.unindex_emails(&id, &email_keys(&user.attributes));
        let gone: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, m)| m.user_id == id)
            .map(|(mid, _)| mid.clone())
            .collect();
        for mid in gone {
            self.remove_membership(&mid);
        }
        Ok(json!({}))
    }

    fn filter(input: Input<'_>, allowed: &str) -> Result<Option<String>, ApiError> {
        let Some(filters) = input.array("Filters")? else {
            return Ok(None);
        };
        match filters.as_slice() {
            [] => Ok(None),
            [filter] => {
                let filter = filter
                    .as_object()
                    .map(Input)
                    .ok_or_else(|| ApiError::serialization("Expected a structure for Filters"))?;
                let path = filter.required_string("AttributePath")?;
                let value = filter.required_string("AttributeValue")?;
                if !path.eq_ignore_ascii_case(allowed) {
                    return Err(ApiError::validation(format!(
                        "Filtering is only supported on {allowed}"
                    )));
                }
                Ok(Some(value.to_owned()))
            }
            _ => Err(ApiError::validation("At most one filter is supported")),
        }
    }

    fn page<'s>(
        order: &'s BTreeMap<u64, String>,
        input: Input<'_>,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(Vec<&'s String>, Option<String>), ApiError> {
        let limit = max_results(input)?;
        let after = after_token(input)?;
        let start = after.map_or(0, |s| s + 1);
        let mut items = Vec::new();
        let mut last = None;
        for (seq, id) in order.range(start..) {
            if !keep(id) {
                continue;
            }
            if items.len() == limit {
                return Ok((items, last.map(token)));
            }
            items.push(id);
            last = Some(*seq);
        }
        Ok((items, None))
    }

    fn list_users(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let name = Self::filter(input, "UserName")?.map(|n| self.name_key(&n));
        let (ids, next) = Self::page(&self.index.users_by_seq, input, |id| {
            name.as_deref().is_none_or(|n| {
                self.users[id]
                    .attributes
                    .get("UserName")
                    .and_then(Value::as_str)
                    .is_some_and(|v| self.name_key(v) == n)
            })
        })?;
        let asked = extension::asked(input)?;
        let users: Vec<Value> = ids
            .into_iter()
            .map(|id| self.user_json(id, &self.users[id], &asked))
            .collect();
        Ok(with_token(json!({ "Users": users }), next))
    }

    fn alternate(input: Input<'_>) -> Result<Alternate<'_>, ApiError> {
        let alt = input.required_object("AlternateIdentifier")?;
        match (alt.object("ExternalId")?, alt.object("UniqueAttribute")?) {
            (Some(external), None) => {
                let issuer = external.required_string("Issuer")?;
                let id = external.required_string("Id")?;
                text("externalId.issuer", issuer, 1, 100, &EXTERNAL_ID_PART)?;
                text("externalId.id", id, 1, 256, &EXTERNAL_ID_PART)?;
                Ok(Alternate::External(issuer, id))
            }
            (None, Some(unique)) => {
                let path = unique.required_string("AttributePath")?;
                text("uniqueAttribute.attributePath", path, 1, 255, &ATTRIBUTE_PATH)?;
                let value = unique
                    .get("AttributeValue")
                    .ok_or_else(|| missing("uniqueAttribute.attributeValue"))?;
                let value = value
                    .as_str()
                    .ok_or_else(|| ApiError::validation("The unique attribute value must be a string"))?;
                if value.is_empty() {
                    return Err(ApiError::validation(
                        "attribute value cannot be empty or null for attribute path",
                    ));
                }
                Ok(Alternate::Unique(path, value))
            }
            _ => Err(ApiError::validation(
                "AlternateIdentifier must set exactly one of ExternalId and UniqueAttribute",
            )),
        }
    }

    fn get_user_id(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let found = match Self::alternate(input)? {
            Alternate::Unique(path, value) if path.eq_ignore_ascii_case("userName") => {
                self.index.user_by_name.get(&self.name_key(value)).cloned()
            }
            Alternate::Unique(path, value) if path.eq_ignore_ascii_case("emails.value") => self
                .index
                .users_by_seq
                .values()
                .find(|id| {
                    self.users[*id]
                        .attributes
                        .get("Emails")
                        .and_then(Value::as_array)
                        .is_some_and(|emails| {
                            emails
                                .iter()
                                .any(|e| e.get("Value").and_then(Value::as_str) == Some(value))
                        })
                })
                .cloned(),
            Alternate::Unique(path, _) => {
                return Err(ApiError::validation(format!(
                    "The attribute {path} is not a unique attribute"
                )));
            }
            Alternate::External(issuer, external) => self
                .index
                .users_by_seq
                .values()
                .find(|id| has_external_id(&self.users[*id], issuer, external))
                .cloned(),
        };
        let id = found.ok_or_else(|| ApiError::not_found("USER", None))?;
        Ok(json!({ "IdentityStoreId": self.identity_store_id, "UserId": id, "UserArn": arn("user", &id) }))
    }

    // ---- groups ----

    fn group_id_of(&self, input: Input<'_>) -> Result<String, ApiError> {
        let id = resource_id("groupId", input.required_string("GroupId")?)?;
        if self.groups.contains_key(&id) {
            Ok(id)
        } else {
            Err(ApiError::not_found("GROUP", Some(&id)))
        }
    }

    fn group_json(&self, id: &str, group: &Record) -> Value {
        let mut out = group.attributes.clone();
        out.insert("IdentityStoreId".into(), json!(self.identity_store_id));
        out.insert("GroupId".into(), json!(id));
        out.insert("GroupArn".into(), json!(arn("group", id)));
        out.insert("Revision".into(), json!(group.revision.to_string()));
        out.insert("CreatedAt".into(), json!(group.created_at));
        out.insert("UpdatedAt".into(), json!(group.updated_at));
        out.insert("CreatedBy".into(), json!("turnstile-emulator"));
        out.insert("UpdatedBy".into(), json!("turnstile-emulator"));
        if !group.external_ids.is_empty() {
            out.insert("ExternalIds".into(), Value::Array(group.external_ids.clone()));
        }
        Value::Object(out)
    }

    fn create_group(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let name = input.string("DisplayName")?.ok_or_else(|| missing("displayName"))?;
        text("displayName", name, 1, 1024, &SENSITIVE)?;
        let description = sensitive(input, "Description", "description")?;
        if self.index.group_by_name.contains_key(&self.name_key(name)) {
            return Err(ApiError::uniqueness("Duplicate GroupDisplayName"));
        }
        let mut attributes = Map::new();
        attributes.insert("DisplayName".into(), json!(name));
        if let Some(description) = description {
            attributes.insert("Description".into(), json!(description));
        }
        let id = self.new_id();
        let seq = self.seq();
        let at = now();
        self.groups.insert(
            id.clone(),
            Record {
                seq,
                attributes,
                external_ids: Vec::new(),
                revision: 1,
                created_at: at,
                updated_at: at,
            },
        );
        self.index.groups_by_seq.insert(seq, id.clone());
        let key = self.name_key(name);
        self.index.group_by_name.insert(key, id.clone());
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "GroupId": id, "GroupArn": arn("group", &id), "Revision": "1" }),
        )
    }

    fn describe_group(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let id = self.group_id_of(input)?;
        Ok(self.group_json(&id, &self.groups[&id]))
    }

    fn update_group(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let id = self.group_id_of(input)?;
        Self::check_revision(input, &self.groups[&id])?;
        let mut attributes = self.groups[&id].attributes.clone();
        for (path, value) in Self::operations(input)? {
            let key = member_path(&path).concat();
            match (key.as_str(), value) {
                ("DisplayName" | "Description", Some(Value::String(s))) => {
                    text(&path, &s, 1, 1024, &SENSITIVE)?;
                    attributes.insert(key, Value::String(s));
                }
                ("Description", None) => {
                    attributes.remove("Description");
                }
                ("DisplayName", None) => {
                    return Err(ApiError::validation("displayName is required and cannot be removed"));
                }
                ("DisplayName" | "Description", Some(_)) => {
                    return Err(ApiError::validation(format!("{path} must be a string")));
                }
                _ => {
                    return Err(ApiError::validation(format!(
                        "{path} is not a group attribute that can be updated"
                    )));
                }
            }
        }
        let revision = commit_update(
            &mut self.groups,
            &mut self.index.group_by_name,
            &id,
            attributes,
            (
                "DisplayName",
                "Duplicate GroupDisplayName",
                self.rules.case_insensitive_names,
            ),
        )?;
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "GroupId": id, "GroupArn": arn("group", &id), "Revision": revision }),
        )
    }

    fn delete_group(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let Some(id) = self.to_delete(self.group_id_of(input))? else {
            return Ok(json!({}));
        };
        Self::check_revision(input, &self.groups[&id])?;
        let group = self.groups.remove(&id).expect("checked above");
        self.index.groups_by_seq.remove(&group.seq);
        if let Some(name) = group.attributes.get("DisplayName").and_then(Value::as_str) {
            let key = self.name_key(name);
            self.index.group_by_name.remove(&key);
        }
        let gone: Vec<String> = self
            .memberships
            .iter()
            .filter(|(_, m)| m.group_id == id)
            .map(|(mid, _)| mid.clone())
            .collect();
        for mid in gone {
            self.remove_membership(&mid);
        }
        Ok(json!({}))
    }

    fn list_groups(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let name = Self::filter(input, "DisplayName")?.map(|n| self.name_key(&n));
        let (ids, next) = Self::page(&self.index.groups_by_seq, input, |id| {
            name.as_deref().is_none_or(|n| {
                self.groups[id]
                    .attributes
                    .get("DisplayName")
                    .and_then(Value::as_str)
                    .is_some_and(|v| self.name_key(v) == n)
            })
        })?;
        let groups: Vec<Value> = ids
            .into_iter()
            .map(|id| self.group_json(id, &self.groups[id]))
            .collect();
        Ok(with_token(json!({ "Groups": groups }), next))
    }

    fn get_group_id(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let found = match Self::alternate(input)? {
            Alternate::Unique(path, value) if path.eq_ignore_ascii_case("displayName") => {
                self.index.group_by_name.get(&self.name_key(value)).cloned()
            }
            Alternate::Unique(path, _) => {
                return Err(ApiError::validation(format!(
                    "The attribute {path} is not a unique attribute"
                )));
            }
            Alternate::External(issuer, external) => self
                .index
                .groups_by_seq
                .values()
                .find(|id| has_external_id(&self.groups[*id], issuer, external))
                .cloned(),
        };
        let id = found.ok_or_else(|| ApiError::not_found("GROUP", None))?;
        Ok(json!({ "IdentityStoreId": self.identity_store_id, "GroupId": id, "GroupArn": arn("group", &id) }))
    }

    // ---- memberships ----

    fn member_of(&self, input: Input<'_>) -> Result<String, ApiError> {
        let member = input.required_object("MemberId")?;
        let user = member
            .string("UserId")?
            .ok_or_else(|| ApiError::validation("MemberId must set UserId"))?;
        let user = resource_id("memberId.userId", user)?;
        if self.users.contains_key(&user) {
            Ok(user)
        } else {
            Err(ApiError::not_found("USER", Some(&user)))
        }
    }

    fn membership_json(&self, id: &str, m: &Membership) -> Value {
        json!({
            "IdentityStoreId": self.identity_store_id,
            "MembershipId": id,
            "MembershipArn": arn("membership", id),
            "GroupId": m.group_id,
            "MemberId": { "UserId": m.user_id },
        })
    }

    fn create_membership(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let group = self.group_id_of(input)?;
        let user = self.member_of(input)?;
        if self
            .index
            .membership_by_pair
            .contains_key(&(group.clone(), user.clone()))
        {
            return Err(ApiError::uniqueness("Member is already in the group"));
        }
        let id = self.new_id();
        let seq = self.seq();
        self.index
            .membership_by_pair
            .insert((group.clone(), user.clone()), id.clone());
        self.index.by_group.insert((group.clone(), seq), id.clone());
        self.index.by_member.insert((user.clone(), seq), id.clone());
        self.memberships.insert(
            id.clone(),
            Membership {
                seq,
                group_id: group,
                user_id: user,
            },
        );
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "MembershipId": id, "MembershipArn": arn("membership", &id) }),
        )
    }

    fn membership_id_of(&self, input: Input<'_>) -> Result<String, ApiError> {
        let id = resource_id("membershipId", input.required_string("MembershipId")?)?;
        if self.memberships.contains_key(&id) {
            Ok(id)
        } else {
            Err(ApiError::not_found("GROUP_MEMBERSHIP", Some(&id)))
        }
    }

    fn describe_membership(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let id = self.membership_id_of(input)?;
        Ok(self.membership_json(&id, &self.memberships[&id]))
    }

    fn remove_membership(&mut self, id: &str) {
        if let Some(m) = self.memberships.remove(id) {
            self.index
                .membership_by_pair
                .remove(&(m.group_id.clone(), m.user_id.clone()));
            self.index.by_group.remove(&(m.group_id, m.seq));
            self.index.by_member.remove(&(m.user_id, m.seq));
        }
    }

    fn delete_membership(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let Some(id) = self.to_delete(self.membership_id_of(input))? else {
            return Ok(json!({}));
        };
        self.remove_membership(&id);
        Ok(json!({}))
    }

    fn get_membership_id(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let group = self.group_id_of(input)?;
        let user = self.member_of(input)?;
        let id = self
            .index
            .membership_by_pair
            .get(&(group, user))
            .cloned()
            .ok_or_else(|| ApiError::not_found("GROUP_MEMBERSHIP", None))?;
        Ok(
            json!({ "IdentityStoreId": self.identity_store_id, "MembershipId": id, "MembershipArn": arn("membership", &id) }),
        )
    }

    fn memberships_page(
        &self,
        index: &BTreeMap<(String, u64), String>,
        owner: &str,
        input: Input<'_>,
    ) -> Result<Value, ApiError> {
        let limit = max_results(input)?;
        let start = after_token(input)?.map_or(0, |s| s + 1);
        let mut items = Vec::new();
        let mut next = None;
        for ((_, seq), id) in index.range((owner.to_owned(), start)..(owner.to_owned(), u64::MAX)) {
            if items.len() == limit {
                next = Some(token(seq - 1));
                break;
            }
            items.push(self.membership_json(id, &self.memberships[id]));
        }
        Ok(with_token(json!({ "GroupMemberships": items }), next))
    }

    fn list_memberships(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let group = self.group_id_of(input)?;
        self.memberships_page(&self.index.by_group, &group, input)
    }

    fn list_memberships_for_member(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let user = self.member_of(input)?;
        self.memberships_page(&self.index.by_member, &user, input)
    }

    fn is_member_in_groups(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        let user = self.member_of(input)?;
        let groups = input.array("GroupIds")?.ok_or_else(|| missing("groupIds"))?;
        if groups.is_empty() || groups.len() > 100 {
            return Err(ApiError::validation(
                "1 validation error detected: Value at 'groupIds' failed to satisfy constraint: Member must have length between 1 and 100",
            ));
        }
        let mut results = Vec::new();
        for group in groups {
            let group = group
                .as_str()
                .ok_or_else(|| ApiError::serialization("Expected a string in GroupIds"))?;
            let group = resource_id("groupIds", group)?;
            let exists = self
                .index
                .membership_by_pair
                .contains_key(&(group.clone(), user.clone()));
            results.push(json!({ "GroupId": group, "MemberId": { "UserId": user }, "MembershipExists": exists }));
        }
        Ok(json!({ "Results": results }))
    }

    // ---- the identity store ----

    /// `arn:aws:identitystore::<account>:identitystore/<id>`.
    pub fn identity_store_arn(&self) -> String {
        format!(
            "arn:aws:identitystore::{ACCOUNT_ID}:identitystore/{}",
            self.identity_store_id
        )
    }

    fn describe_identity_store(&self) -> Value {
        let mut out = json!({
            "IdentityStoreId": self.identity_store_id,
            "IdentityStoreArn": self.identity_store_arn(),
        });
        if let (Some(config), Some(map)) = (&self.network_configuration, out.as_object_mut()) {
            map.insert("NetworkConfiguration".into(), config.clone());
        }
        out
    }

    /// The one identity store served, paginated as the model's `ListIdentityStores`.
    fn list_identity_stores(&self, input: Input<'_>) -> Result<Value, ApiError> {
        max_results(input)?;
        // The store sits at position 0; a token of ours points past it.
        let stores = if after_token(input)?.is_some() {
            vec![]
        } else {
            vec![json!({ "IdentityStoreId": self.identity_store_id, "IdentityStoreArn": self.identity_store_arn() })]
        };
        Ok(json!({ "IdentityStores": stores }))
    }

    /// Replaces the network configuration whole when one is given: omitted lists are
    /// cleared, empty lists refused.
    fn update_identity_store(&mut self, input: Input<'_>) -> Result<Value, ApiError> {
        if let Some(config) = input.object("NetworkConfiguration")? {
            let vpce = match config.get("VpceAccessRequired") {
                None => return Err(missing("networkConfiguration.vpceAccessRequired")),
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(ApiError::serialization("Expected a boolean for VpceAccessRequired")),
            };
            let mut details = Map::new();
            details.insert("VpceAccessRequired".into(), json!(vpce));
            let lists = [
                (
                    "ApiRestrictSourceVpcs",
                    "networkConfiguration.apiRestrictSourceVpcs",
                    (12, 128),
                    &*VPC_ARN,
                ),
                (
                    "ApiAllowSourceIps",
                    "networkConfiguration.apiAllowSourceIps",
                    (2, 43),
                    &*IP_CIDR,
                ),
                (
                    "ScimAllowSourceIps",
                    "networkConfiguration.scimAllowSourceIps",
                    (2, 43),
                    &*IP_CIDR,
                ),
            ];
            for (key, path, limits, pattern) in lists {
                if let Some(items) = string_list(config, key, path, limits, pattern)? {
                    details.insert(key.into(), json!(items));
                }
            }
            self.network_configuration = Some(Value::Object(details));
        }
        Ok(json!({ "IdentityStoreId": self.identity_store_id, "IdentityStoreArn": self.identity_store_arn() }))
    }

    // ---- admin ----

    /// Sets a user's `UserStatus` (`ENABLED` or `DISABLED`), as an operator does in the
    /// IAM Identity Center console; the user's revision moves on.
    pub fn set_user_status(&mut self, id: &str, status: &str) -> Result<(), ApiError> {
        if !USER_STATUSES.contains(&status) {
            return Err(ApiError::validation("status must be ENABLED or DISABLED"));
        }
        let user = self
            .users
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("USER", Some(id)))?;
        user.attributes.insert("UserStatus".into(), json!(status));
        user.revision += 1;
        user.updated_at = now();
        Ok(())
    }

    /// Gives a user or group ExternalIds, as SCIM provisioning does.
    pub fn set_external_ids(&mut self, kind: &str, id: &str, external_ids: Vec<Value>) -> Result<(), ApiError> {
        if external_ids.len() > 10 {
            return Err(ApiError::validation("At most 10 ExternalIds"));
        }
        for external in &external_ids {
            let external = external
                .as_object()
                .map(Input)
                .ok_or_else(|| ApiError::validation("ExternalIds items must be objects"))?;
            text("issuer", external.required_string("Issuer")?, 1, 100, &EXTERNAL_ID_PART)?;
            text("id", external.required_string("Id")?, 1, 256, &EXTERNAL_ID_PART)?;
        }
        let record = match kind {
            "user" => self.users.get_mut(id),
            "group" => self.groups.get_mut(id),
            _ => return Err(ApiError::validation("kind must be user or group")),
        }
        .ok_or_else(|| ApiError::not_found(if kind == "user" { "USER" } else { "GROUP" }, Some(id)))?;
        record.external_ids = external_ids;
        record.revision += 1;
        Ok(())
    }

    /// A readable dump: users, groups and who is in which group, by name.
    pub fn summary(&self) -> Value {
        let users: Vec<Value> = self
            .index
            .users_by_seq
            .values()
            .map(|id| {
                let a = &self.users[id].attributes;
                let enterprise = a.get(extension::STORED).and_then(|e| e.get(extension::ENTERPRISE));
                let department = enterprise.and_then(|e| e.get("department"));
                // The manager by userName, as an operator reads it.
                let manager = enterprise
                    .and_then(|e| e.pointer("/manager/value"))
                    .and_then(Value::as_str)
                    .and_then(|m| self.users.get(m))
                    .and_then(|m| m.attributes.get("UserName"));
                json!({
                    "userId": id, "userName": a.get("UserName"), "displayName": a.get("DisplayName"),
                    "title": a.get("Title"), "department": department, "manager": manager
                })
            })
            .collect();
        let groups: Vec<Value> = self
            .index
            .groups_by_seq
            .values()
            .map(|id| {
                let members: Vec<Value> = self
                    .index
                    .by_group
                    .range((id.clone(), 0)..(id.clone(), u64::MAX))
                    .filter_map(|(_, mid)| self.users.get(&self.memberships[mid].user_id))
                    .map(|u| u.attributes.get("UserName").cloned().unwrap_or(Value::Null))
                    .collect();
                let a = &self.groups[id].attributes;
                json!({ "groupId": id, "displayName": a.get("DisplayName"), "description": a.get("Description"), "members": members })
            })
            .collect();
        json!({ "identityStoreId": self.identity_store_id, "users": users, "groups": groups })
    }
}

enum Alternate<'a> {
    Unique(&'a str, &'a str),
    External(&'a str, &'a str),
}

/// Stores updated attributes of a user or group: re-claims its unique name when the
/// update changed it (a name another record holds is a uniqueness conflict) and bumps
/// the revision, which it returns.
fn commit_update(
    records: &mut BTreeMap<String, Record>,
    by_name: &mut HashMap<String, String>,
    id: &str,
    attributes: Map<String, Value>,
    (name_key, conflict, case_insensitive): (&str, &str, bool),
) -> Result<String, ApiError> {
    let name_of = |attributes: &Map<String, Value>| {
        attributes
            .get(name_key)
            .and_then(Value::as_str)
            .map(|name| fold(case_insensitive, name))
            .unwrap_or_default()
    };
    let record = records.get_mut(id).ok_or_else(|| ApiError::internal(None))?;
    let (old_name, new_name) = (name_of(&record.attributes), name_of(&attributes));
    if new_name != old_name {
        if by_name.contains_key(&new_name) {
            return Err(ApiError::uniqueness(conflict));
        }
        by_name.remove(&old_name);
        by_name.insert(new_name, id.to_owned());
    }
    record.attributes = attributes;
    record.revision += 1;
    record.updated_at = now();
    Ok(record.revision.to_string())
}

fn has_external_id(record: &Record, issuer: &str, id: &str) -> bool {
    record.external_ids.iter().any(|e| {
        e.get("Issuer").and_then(Value::as_str) == Some(issuer) && e.get("Id").and_then(Value::as_str) == Some(id)
    })
}

fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(map)) = (next, body.as_object_mut()) {
        map.insert("NextToken".into(), json!(next));
    }
    body
}
