//! The user a joiner or mover event describes, and the one table of its attributes.
//!
//! [`ATTRIBUTES`] is the only place that lists the user's attributes: validation
//! (`contract/request.rs`), the UpdateUser plan (`jobs/onboard.rs`) and the result's
//! `updatedAttributes` all walk it. The adapter converts [`UserSpec`] to and from the
//! SDK's types (`identitystore/user.rs`); a stored user comes back as a [`UserSpec`] too,
//! with a required attribute it lacks as empty text, which no valid request holds.

use std::borrow::Cow;

use serde::Deserialize;

/// `user.name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NameSpec {
    pub given_name: String,
    pub family_name: String,
    pub middle_name: Option<String>,
    pub formatted: Option<String>,
    pub honorific_prefix: Option<String>,
    pub honorific_suffix: Option<String>,
}

/// One entry of `user.emails` or `user.phoneNumbers`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactSpec {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// One entry of `user.addresses`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressSpec {
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub formatted: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// One entry of `user.photos`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoSpec {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub display: Option<String>,
    pub primary: Option<bool>,
}

/// One entry of `user.roles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSpec {
    pub value: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: Option<bool>,
}

/// `user.enterprise`: the HR attributes of the `aws:identitystore:enterprise` extension,
/// which attribute-based access control reads.
///
/// `manager` is the manager's userName in a request; in a stored user it is the user
/// id the extension holds, which the job resolves the request's name to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnterpriseSpec {
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    pub manager: Option<String>,
}

/// `user`: the CreateUser attributes, camelCase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSpec {
    pub user_name: String,
    pub display_name: String,
    pub name: NameSpec,
    pub nick_name: Option<String>,
    pub profile_url: Option<String>,
    pub emails: Option<Vec<ContactSpec>>,
    pub addresses: Option<Vec<AddressSpec>>,
    pub phone_numbers: Option<Vec<ContactSpec>>,
    pub user_type: Option<String>,
    pub title: Option<String>,
    pub preferred_language: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub website: Option<String>,
    pub birthdate: Option<String>,
    pub photos: Option<Vec<PhotoSpec>>,
    pub roles: Option<Vec<RoleSpec>>,
    pub enterprise: Option<EnterpriseSpec>,
}

/// A single-valued text attribute. `field` is its request field (camelCase), which is
/// also its UpdateUser attribute path and its name in `updatedAttributes`; `get` reads
/// it (`None`: absent; the required ones are always there).
#[derive(Debug)]
pub(crate) struct Text<T: 'static> {
    pub(crate) field: &'static str,
    pub(crate) get: fn(&T) -> Option<&str>,
}

/// A part of `name`, set by its own path (`name.givenName`) so that unset parts stay.
#[derive(Debug)]
pub(crate) struct NamePart {
    pub(crate) text: Text<NameSpec>,
    pub(crate) path: &'static str,
}

/// A field of a multi-valued attribute's item: its request key (camelCase) and the key
/// UpdateUser takes inside the item (PascalCase).
#[derive(Debug)]
pub(crate) struct ItemField<T: 'static> {
    pub(crate) text: Text<T>,
    pub(crate) api_key: &'static str,
}

/// A multi-valued attribute (`emails`, `phoneNumbers`, `addresses`, `photos`, `roles`):
/// the service keeps at most `max` items per user (one, but three photos), and
/// UpdateUser replaces the list whole.
#[derive(Debug)]
pub(crate) struct Items<T: 'static> {
    pub(crate) field: &'static str,
    pub(crate) get: fn(&UserSpec) -> Option<&[T]>,
    pub(crate) fields: &'static [ItemField<T>],
    pub(crate) primary: fn(&T) -> Option<bool>,
    /// Whether an item must set at least one field (an address, a role), beyond the
    /// required ones.
    pub(crate) needs_a_field: bool,
    /// The most items the API model allows.
    pub(crate) max: usize,
}

/// One attribute of [`ATTRIBUTES`].
#[derive(Debug)]
pub(crate) enum Attribute {
    Text(Text<UserSpec>),
    Name(&'static [NamePart]),
    Contacts(Items<ContactSpec>),
    Addresses(Items<AddressSpec>),
    Photos(Items<PhotoSpec>),
    Roles(Items<RoleSpec>),
    /// The `aws:identitystore:enterprise` extension's members, each set on its own.
    Enterprise(&'static [Text<EnterpriseSpec>]),
}

const fn text<T>(field: &'static str, get: fn(&T) -> Option<&str>) -> Text<T> {
    Text { field, get }
}

const fn part(path: &'static str, text: Text<NameSpec>) -> NamePart {
    NamePart { text, path }
}

const fn item<T>(api_key: &'static str, text: Text<T>) -> ItemField<T> {
    ItemField { text, api_key }
}

const CONTACT_FIELDS: &[ItemField<ContactSpec>] = &[
    item("Value", text("value", |c| Some(c.value.as_str()))),
    item("Type", text("type", |c| c.kind.as_deref())),
];

/// Every user attribute besides `userName` (the identifier, never updated), in the
/// order `updatedAttributes` lists them.
pub(crate) const ATTRIBUTES: &[Attribute] = &[
    Attribute::Text(text("displayName", |u| Some(u.display_name.as_str()))),
    Attribute::Name(&[
        part("name.givenName", text("givenName", |n| Some(n.given_name.as_str()))),
        part("name.familyName", text("familyName", |n| Some(n.family_name.as_str()))),
        part("name.middleName", text("middleName", |n| n.middle_name.as_deref())),
        part("name.formatted", text("formatted", |n| n.formatted.as_deref())),
        part(
            "name.honorificPrefix",
            text("honorificPrefix", |n| n.honorific_prefix.as_deref()),
        ),
        part(
            "name.honorificSuffix",
            text("honorificSuffix", |n| n.honorific_suffix.as_deref()),
        ),
    ]),
    Attribute::Text(text("nickName", |u| u.nick_name.as_deref())),
    Attribute::Text(text("profileUrl", |u| u.profile_url.as_deref())),
    Attribute::Contacts(Items {
        field: "emails",
        get: |u| u.emails.as_deref(),
        fields: CONTACT_FIELDS,
        primary: |c| c.primary,
        needs_a_field: false,
        max: 1,
    }),
    Attribute::Addresses(Items {
        field: "addresses",
        get: |u| u.addresses.as_deref(),
        fields: &[
            item("StreetAddress", text("streetAddress", |a| a.street_address.as_deref())),
            item("Locality", text("locality", |a| a.locality.as_deref())),
            item("Region", text("region", |a| a.region.as_deref())),
            item("PostalCode", text("postalCode", |a| a.postal_code.as_deref())),
            item("Country", text("country", |a| a.country.as_deref())),
            item("Formatted", text("formatted", |a| a.formatted.as_deref())),
            item("Type", text("type", |a| a.kind.as_deref())),
        ],
        primary: |a| a.primary,
        needs_a_field: true,
        max: 1,
    }),
    Attribute::Contacts(Items {
        field: "phoneNumbers",
        get: |u| u.phone_numbers.as_deref(),
        fields: CONTACT_FIELDS,
        primary: |c| c.primary,
        needs_a_field: false,
        max: 1,
    }),
    Attribute::Text(text("userType", |u| u.user_type.as_deref())),
    Attribute::Text(text("title", |u| u.title.as_deref())),
    Attribute::Text(text("preferredLanguage", |u| u.preferred_language.as_deref())),
    Attribute::Text(text("locale", |u| u.locale.as_deref())),
    Attribute::Text(text("timezone", |u| u.timezone.as_deref())),
    Attribute::Text(text("website", |u| u.website.as_deref())),
    Attribute::Text(text("birthdate", |u| u.birthdate.as_deref())),
    Attribute::Photos(Items {
        field: "photos",
        get: |u| u.photos.as_deref(),
        fields: &[
            item("Value", text("value", |p| Some(p.value.as_str()))),
            item("Type", text("type", |p| p.kind.as_deref())),
            item("Display", text("display", |p| p.display.as_deref())),
        ],
        primary: |p| p.primary,
        needs_a_field: false,
        max: 3,
    }),
    Attribute::Roles(Items {
        field: "roles",
        get: |u| u.roles.as_deref(),
        fields: &[
            item("Value", text("value", |r| r.value.as_deref())),
            item("Type", text("type", |r| r.kind.as_deref())),
        ],
        primary: |r| r.primary,
        needs_a_field: true,
        max: 1,
    }),
    Attribute::Enterprise(ENTERPRISE_MEMBERS),
];

/// The members of `user.enterprise`, by their names in the request and in the
/// extension's document (the same camelCase names). `manager` is an id here: the job
/// resolves the request's userName before it converges (see [`EnterpriseSpec`]).
pub(crate) const ENTERPRISE_MEMBERS: &[Text<EnterpriseSpec>] = &[
    text("employeeNumber", |e| e.employee_number.as_deref()),
    text("costCenter", |e| e.cost_center.as_deref()),
    text("organization", |e| e.organization.as_deref()),
    text("division", |e| e.division.as_deref()),
    text("department", |e| e.department.as_deref()),
    text(MANAGER, |e| e.manager.as_deref()),
];

/// `user.enterprise.manager`, whose value the extension holds as `{"value": <user id>}`.
pub(crate) const MANAGER: &str = "manager";

/// A value UpdateUser writes at an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    Bool(bool),
    /// A multi-valued attribute's items, each as `(UpdateUser key, value)` pairs.
    Items(Vec<Vec<(&'static str, Value)>>),
    /// A structure, as `(key, value)` pairs (the enterprise `manager`).
    Object(Vec<(&'static str, Value)>),
}

/// One attribute to set on a stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) path: Cow<'static, str>,
    pub(crate) value: Value,
}

/// The extension that holds [`EnterpriseSpec`], as CreateUser's `Extensions` key and
/// DescribeUser's `Extensions` name.
pub(crate) const ENTERPRISE_EXTENSION: &str = "aws:identitystore:enterprise";

/// How UpdateUser addresses one member of the enterprise extension: the extension's
/// name, a dot, the member's name (`aws:identitystore:enterprise.department`).
///
/// The SDK's documentation does not say; the API model's `AttributePath` pattern has
/// this form as its first alternative (`\p{L}+:\p{L}+:\p{L}+(?:\.\p{L}+){0,3}`). See
/// docs/contract.md, "The enterprise extension", for the sources and what is not
/// settled; a live probe that finds otherwise changes this one function.
pub(crate) fn enterprise_path(member: &str) -> String {
    format!("{ENTERPRISE_EXTENSION}.{member}")
}

/// The document value of an enterprise member: text, or for `manager` the structure
/// `{"value": <user id>}` that the extension holds.
pub(crate) fn enterprise_value(member: &str, value: &str) -> Value {
    if member == MANAGER {
        Value::Object(vec![("value", Value::Text(value.to_owned()))])
    } else {
        Value::Text(value.to_owned())
    }
}

/// Whether a field the request gives differs from the stored one. Absent request
/// fields never count: the contract leaves them alone.
fn differs<T: PartialEq + Copy>(wanted: Option<T>, stored: Option<T>) -> bool {
    wanted.is_some_and(|w| Some(w) != stored)
}

/// The UpdateUser changes that bring `stored` to `wanted`, and the request fields they
/// change (in [`ATTRIBUTES`] order).
///
/// Single-valued text is set by path; `name` and `enterprise` member by member, so that
/// unset members are kept; a multi-valued attribute is replaced whole, as the service
/// requires, with the stored items' unset fields kept. `wanted.enterprise.manager` must
/// already be the manager's user id.
pub(crate) fn convergence(wanted: &UserSpec, stored: &UserSpec) -> (Vec<Change>, Vec<&'static str>) {
    let mut changes = Vec::new();
    let mut changed = Vec::new();
    for attribute in ATTRIBUTES {
        let before = changes.len();
        let field = match attribute {
            Attribute::Text(t) => {
                if let Some(value) = (t.get)(wanted).filter(|w| Some(*w) != (t.get)(stored)) {
                    changes.push(Change {
                        path: Cow::Borrowed(t.field),
                        value: Value::Text(value.to_owned()),
                    });
                }
                t.field
            }
            Attribute::Name(parts) => {
                for p in *parts {
                    let (w, s) = ((p.text.get)(&wanted.name), (p.text.get)(&stored.name));
                    if differs(w, s) {
                        changes.push(Change {
                            path: Cow::Borrowed(p.path),
                            value: Value::Text(w.unwrap_or_default().to_owned()),
                        });
                    }
                }
                "name"
            }
            Attribute::Contacts(items) => items.converge(wanted, stored, &mut changes),
            Attribute::Addresses(items) => items.converge(wanted, stored, &mut changes),
            Attribute::Photos(items) => items.converge(wanted, stored, &mut changes),
            Attribute::Roles(items) => items.converge(wanted, stored, &mut changes),
            Attribute::Enterprise(members) => {
                let (w, s) = (wanted.enterprise.as_ref(), stored.enterprise.as_ref());
                for m in *members {
                    let want = w.and_then(|w| (m.get)(w));
                    if differs(want, s.and_then(|s| (m.get)(s))) {
                        changes.push(Change {
                            path: Cow::Owned(enterprise_path(m.field)),
                            value: enterprise_value(m.field, want.unwrap_or_default()),
                        });
                    }
                }
                "enterprise"
            }
        };
        if changes.len() > before {
            changed.push(field);
        }
    }
    (changes, changed)
}

/// A field of a stored item, when there is an item at that place.
fn stored_text<'s, T>(have: Option<&'s T>, f: &ItemField<T>) -> Option<&'s str> {
    have.and_then(|h| (f.text.get)(h))
}

impl<T> Items<T> {
    /// A whole-attribute replacement when the request's items differ from the stored
    /// ones: another count, or a field the request gives that differs from the stored
    /// item at the same place. Returns the attribute's field name.
    fn converge(&self, wanted: &UserSpec, stored: &UserSpec, changes: &mut Vec<Change>) -> &'static str {
        let Some(wants) = (self.get)(wanted) else {
            return self.field;
        };
        let haves = (self.get)(stored).unwrap_or_default();
        let stored_primary = |have: Option<&T>| have.and_then(|h| (self.primary)(h));
        let item_differs = |(i, want): (usize, &T)| {
            let have = haves.get(i);
            self.fields
                .iter()
                .any(|f| differs((f.text.get)(want), stored_text(have, f)))
                || differs((self.primary)(want), stored_primary(have))
        };
        let changed = wants.len() != haves.len() || wants.iter().enumerate().any(item_differs);
        if changed {
            let items = wants
                .iter()
                .enumerate()
                .map(|(i, want)| {
                    let have = haves.get(i);
                    let mut item: Vec<(&'static str, Value)> = self
                        .fields
                        .iter()
                        .filter_map(|f| {
                            let value = (f.text.get)(want).or_else(|| stored_text(have, f))?;
                            Some((f.api_key, Value::Text(value.to_owned())))
                        })
                        .collect();
                    if let Some(primary) = (self.primary)(want).or_else(|| stored_primary(have)) {
                        item.push(("Primary", Value::Bool(primary)));
                    }
                    item
                })
                .collect();
            changes.push(Change {
                path: Cow::Borrowed(self.field),
                value: Value::Items(items),
            });
        }
        self.field
    }
}
