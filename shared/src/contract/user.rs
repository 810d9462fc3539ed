//! The user a joiner or mover event describes, and the one table of its attributes.
//!
//! [`ATTRIBUTES`] is the only place that lists the user's attributes: validation
//! (`contract/request.rs`), the UpdateUser plan (`jobs/onboard.rs`) and the result's
//! `updatedAttributes` all walk it. The adapter converts [`UserSpec`] to and from the
//! SDK's types (`identitystore/user.rs`); a stored user comes back as a [`UserSpec`] too,
//! with a required attribute it lacks as empty text, which no valid request holds.

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

/// A multi-valued attribute (`emails`, `phoneNumbers`, `addresses`): the service keeps
/// one item per user, and UpdateUser replaces it whole.
#[derive(Debug)]
pub(crate) struct Items<T: 'static> {
    pub(crate) field: &'static str,
    pub(crate) get: fn(&UserSpec) -> Option<&[T]>,
    pub(crate) fields: &'static [ItemField<T>],
    pub(crate) primary: fn(&T) -> Option<bool>,
    /// Whether an item must set at least one field (an address), beyond the required ones.
    pub(crate) needs_a_field: bool,
}

/// One attribute of [`ATTRIBUTES`].
#[derive(Debug)]
pub(crate) enum Attribute {
    Text(Text<UserSpec>),
    Name(&'static [NamePart]),
    Contacts(Items<ContactSpec>),
    Addresses(Items<AddressSpec>),
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
    }),
    Attribute::Contacts(Items {
        field: "phoneNumbers",
        get: |u| u.phone_numbers.as_deref(),
        fields: CONTACT_FIELDS,
        primary: |c| c.primary,
        needs_a_field: false,
    }),
    Attribute::Text(text("userType", |u| u.user_type.as_deref())),
    Attribute::Text(text("title", |u| u.title.as_deref())),
    Attribute::Text(text("preferredLanguage", |u| u.preferred_language.as_deref())),
    Attribute::Text(text("locale", |u| u.locale.as_deref())),
    Attribute::Text(text("timezone", |u| u.timezone.as_deref())),
];

/// A value UpdateUser writes at an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Text(String),
    Bool(bool),
    /// A multi-valued attribute's items, each as `(UpdateUser key, value)` pairs.
    Items(Vec<Vec<(&'static str, Value)>>),
}

/// One attribute to set on a stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub(crate) path: &'static str,
    pub(crate) value: Value,
}

/// Whether a field the request gives differs from the stored one. Absent request
/// fields never count: the contract leaves them alone.
fn differs<T: PartialEq + Copy>(wanted: Option<T>, stored: Option<T>) -> bool {
    wanted.is_some_and(|w| Some(w) != stored)
}

/// The UpdateUser changes that bring `stored` to `wanted`, and the request fields they
/// change (in [`ATTRIBUTES`] order).
///
/// Single-valued text is set by path; `name` by sub-path, so that unset name parts are
/// kept; a multi-valued attribute is replaced whole, as the service requires, with the
/// stored item's unset fields kept.
pub(crate) fn convergence(wanted: &UserSpec, stored: &UserSpec) -> (Vec<Change>, Vec<&'static str>) {
    let mut changes = Vec::new();
    let mut changed = Vec::new();
    for attribute in ATTRIBUTES {
        let before = changes.len();
        let field = match attribute {
            Attribute::Text(t) => {
                if let Some(value) = (t.get)(wanted).filter(|w| Some(*w) != (t.get)(stored)) {
                    changes.push(Change {
                        path: t.field,
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
                            path: p.path,
                            value: Value::Text(w.unwrap_or_default().to_owned()),
                        });
                    }
                }
                "name"
            }
            Attribute::Contacts(items) => items.converge(wanted, stored, &mut changes),
            Attribute::Addresses(items) => items.converge(wanted, stored, &mut changes),
        };
        if changes.len() > before {
            changed.push(field);
        }
    }
    (changes, changed)
}

impl<T> Items<T> {
    /// A whole-attribute replacement when the request's one item differs from the
    /// stored first item in any field it gives; returns the attribute's field name.
    fn converge(&self, wanted: &UserSpec, stored: &UserSpec, changes: &mut Vec<Change>) -> &'static str {
        let Some([want]) = (self.get)(wanted) else {
            return self.field;
        };
        let have = (self.get)(stored).and_then(<[T]>::first);
        let stored_text = |f: &ItemField<T>| have.and_then(|h| (f.text.get)(h));
        let stored_primary = have.and_then(|h| (self.primary)(h));
        let primary = (self.primary)(want);
        let changed =
            self.fields.iter().any(|f| differs((f.text.get)(want), stored_text(f))) || differs(primary, stored_primary);
        if changed {
            let mut item: Vec<(&'static str, Value)> = self
                .fields
                .iter()
                .filter_map(|f| {
                    let value = (f.text.get)(want).or_else(|| stored_text(f))?;
                    Some((f.api_key, Value::Text(value.to_owned())))
                })
                .collect();
            if let Some(primary) = primary.or(stored_primary) {
                item.push(("Primary", Value::Bool(primary)));
            }
            changes.push(Change {
                path: self.field,
                value: Value::Items(vec![item]),
            });
        }
        self.field
    }
}
