//! The contract's user in the SDK's shapes: CreateUser's input, DescribeUser's output
//! and UpdateUser's operations. The attributes themselves are listed once, in
//! `contract/user.rs`; this is only the SDK's typed spelling of each.

use aws_sdk_identitystore::operation::create_user::builders::CreateUserFluentBuilder;
use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
use std::collections::HashMap;

use aws_sdk_identitystore::types::builders::{
    AddressBuilder, EmailBuilder, NameBuilder, PhoneNumberBuilder, PhotoBuilder, RoleBuilder,
};
use aws_sdk_identitystore::types::{Address, AttributeOperation, Email, Name, PhoneNumber, Photo, Role};
use aws_smithy_types::Document;

use crate::contract::user::{
    ATTRIBUTES, Attribute, Change, ENTERPRISE_EXTENSION, ENTERPRISE_MEMBERS, EnterpriseSpec, Items, MANAGER, Value,
    enterprise_value,
};
use crate::{AddressSpec, ContactSpec, NameSpec, PhotoSpec, RoleSpec, UserSpec};

type Create = CreateUserFluentBuilder;
type Setter<B, V> = fn(B, Option<V>) -> B;

/// CreateUser's setter of each single-valued text attribute of [`ATTRIBUTES`], by its
/// request field.
const TEXT_SETTERS: &[(&str, Setter<Create, String>)] = &[
    ("displayName", Create::set_display_name),
    ("nickName", Create::set_nick_name),
    ("profileUrl", Create::set_profile_url),
    ("userType", Create::set_user_type),
    ("title", Create::set_title),
    ("preferredLanguage", Create::set_preferred_language),
    ("locale", Create::set_locale),
    ("timezone", Create::set_timezone),
    ("website", Create::set_website),
    ("birthdate", Create::set_birthdate),
];

const NAME_SETTERS: &[(&str, Setter<NameBuilder, String>)] = &[
    ("givenName", NameBuilder::set_given_name),
    ("familyName", NameBuilder::set_family_name),
    ("middleName", NameBuilder::set_middle_name),
    ("formatted", NameBuilder::set_formatted),
    ("honorificPrefix", NameBuilder::set_honorific_prefix),
    ("honorificSuffix", NameBuilder::set_honorific_suffix),
];

/// The SDK's item types by the keys UpdateUser takes inside an item.
const EMAIL_SETTERS: &[(&str, Setter<EmailBuilder, String>)] =
    &[("Value", EmailBuilder::set_value), ("Type", EmailBuilder::set_type)];
const PHONE_SETTERS: &[(&str, Setter<PhoneNumberBuilder, String>)] = &[
    ("Value", PhoneNumberBuilder::set_value),
    ("Type", PhoneNumberBuilder::set_type),
];
const ADDRESS_SETTERS: &[(&str, Setter<AddressBuilder, String>)] = &[
    ("StreetAddress", AddressBuilder::set_street_address),
    ("Locality", AddressBuilder::set_locality),
    ("Region", AddressBuilder::set_region),
    ("PostalCode", AddressBuilder::set_postal_code),
    ("Country", AddressBuilder::set_country),
    ("Formatted", AddressBuilder::set_formatted),
    ("Type", AddressBuilder::set_type),
];
const PHOTO_SETTERS: &[(&str, Setter<PhotoBuilder, String>)] = &[
    ("Value", PhotoBuilder::set_value),
    ("Type", PhotoBuilder::set_type),
    ("Display", PhotoBuilder::set_display),
];
const ROLE_SETTERS: &[(&str, Setter<RoleBuilder, String>)] =
    &[("Value", RoleBuilder::set_value), ("Type", RoleBuilder::set_type)];

/// The setter `table` has for `key`; every attribute of the table has one (a test
/// walks them all).
fn setter<B, V>(table: &[(&str, Setter<B, V>)], key: &str) -> Setter<B, V> {
    table.iter().find(|(k, _)| *k == key).map_or_else(
        || panic!("no CreateUser setter for the attribute {key}"),
        |(_, set)| *set,
    )
}

/// How to build one SDK item type: its builder, its field setters (by UpdateUser key),
/// its `Primary` setter and its build.
type ItemShape<'a, B, O> = (
    fn() -> B,
    &'a [(&'a str, Setter<B, String>)],
    Setter<B, bool>,
    fn(B) -> O,
);

/// The items of a multi-valued attribute, each built field by field from `setters`.
fn items<T, B, O>(
    items: &Items<T>,
    user: &UserSpec,
    (new, setters, primary, build): ItemShape<'_, B, O>,
) -> Option<Vec<O>> {
    let built = (items.get)(user)?.iter().map(|item| {
        let builder = items.fields.iter().fold(new(), |b, f| {
            setter(setters, f.api_key)(b, (f.text.get)(item).map(str::to_owned))
        });
        build(primary(builder, (items.primary)(item)))
    });
    Some(built.collect())
}

/// CreateUser with every attribute the request gives, walking [`ATTRIBUTES`].
pub(super) fn create(request: Create, user: &UserSpec) -> Create {
    ATTRIBUTES.iter().fold(
        request.user_name(&user.user_name),
        |request, attribute| match attribute {
            Attribute::Text(t) => setter(TEXT_SETTERS, t.field)(request, (t.get)(user).map(str::to_owned)),
            Attribute::Name(parts) => request.name(
                parts
                    .iter()
                    .fold(Name::builder(), |b, p| {
                        setter(NAME_SETTERS, p.text.field)(b, (p.text.get)(&user.name).map(str::to_owned))
                    })
                    .build(),
            ),
            Attribute::Contacts(list) if list.field == "phoneNumbers" => request.set_phone_numbers(items(
                list,
                user,
                (
                    PhoneNumber::builder,
                    PHONE_SETTERS,
                    PhoneNumberBuilder::set_primary,
                    PhoneNumberBuilder::build,
                ),
            )),
            Attribute::Contacts(list) if list.field != "emails" => {
                panic!("no CreateUser member for the attribute {}", list.field)
            }
            Attribute::Contacts(list) => request.set_emails(items(
                list,
                user,
                (
                    Email::builder,
                    EMAIL_SETTERS,
                    EmailBuilder::set_primary,
                    EmailBuilder::build,
                ),
            )),
            Attribute::Addresses(list) => request.set_addresses(items(
                list,
                user,
                (
                    Address::builder,
                    ADDRESS_SETTERS,
                    AddressBuilder::set_primary,
                    AddressBuilder::build,
                ),
            )),
            Attribute::Photos(list) => request.set_photos(items(
                list,
                user,
                (Photo::builder, PHOTO_SETTERS, PhotoBuilder::set_primary, |b| {
                    b.build().expect("a photo's value is required by the contract")
                }),
            )),
            Attribute::Roles(list) => request.set_roles(items(
                list,
                user,
                (
                    Role::builder,
                    ROLE_SETTERS,
                    RoleBuilder::set_primary,
                    RoleBuilder::build,
                ),
            )),
            Attribute::Enterprise(_) => match user.enterprise.as_ref().and_then(enterprise_document) {
                Some(document) => request.extensions(ENTERPRISE_EXTENSION, document),
                None => request,
            },
        },
    )
}

/// The enterprise extension's document: the members `enterprise` gives (its `manager`
/// already an id), or `None` when it gives none.
fn enterprise_document(enterprise: &EnterpriseSpec) -> Option<Document> {
    let members: HashMap<String, Document> = ENTERPRISE_MEMBERS
        .iter()
        .filter_map(|m| {
            let value = (m.get)(enterprise)?;
            Some((m.field.to_owned(), document(&enterprise_value(m.field, value))))
        })
        .collect();
    (!members.is_empty()).then_some(Document::Object(members))
}

/// The enterprise extension of a DescribeUser answer, when it was asked for and the
/// user has it. The manager comes back as its user id.
fn stored_enterprise(extensions: Option<&HashMap<String, Document>>) -> Option<EnterpriseSpec> {
    let Some(Document::Object(members)) = extensions?.get(ENTERPRISE_EXTENSION) else {
        return None;
    };
    let read = |member: &str| -> Option<String> {
        match members.get(member)? {
            Document::String(text) if member != MANAGER => Some(text.clone()),
            Document::Object(manager) if member == MANAGER => manager.get("value")?.as_string().map(str::to_owned),
            _ => None,
        }
    };
    Some(EnterpriseSpec {
        employee_number: read("employeeNumber"),
        cost_center: read("costCenter"),
        organization: read("organization"),
        division: read("division"),
        department: read("department"),
        manager: read(MANAGER),
    })
}

fn owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

/// A stored user as the contract's user. A required attribute the store lacks comes
/// back as empty text, so that any request's value differs from it.
pub(super) fn stored(out: &DescribeUserOutput) -> UserSpec {
    let name = out.name().map_or_else(NameSpec::default, |n| NameSpec {
        given_name: n.given_name().unwrap_or_default().to_owned(),
        family_name: n.family_name().unwrap_or_default().to_owned(),
        middle_name: owned(n.middle_name()),
        formatted: owned(n.formatted()),
        honorific_prefix: owned(n.honorific_prefix()),
        honorific_suffix: owned(n.honorific_suffix()),
    });
    let contact = |value: Option<&str>, kind: Option<&str>, primary: bool| ContactSpec {
        value: value.unwrap_or_default().to_owned(),
        kind: owned(kind),
        primary: Some(primary),
    };
    UserSpec {
        user_name: out.user_name().unwrap_or_default().to_owned(),
        display_name: out.display_name().unwrap_or_default().to_owned(),
        name,
        nick_name: owned(out.nick_name()),
        profile_url: owned(out.profile_url()),
        emails: Some(
            out.emails()
                .iter()
                .map(|e| contact(e.value(), e.r#type(), e.primary()))
                .collect(),
        ),
        addresses: Some(
            out.addresses()
                .iter()
                .map(|a| AddressSpec {
                    street_address: owned(a.street_address()),
                    locality: owned(a.locality()),
                    region: owned(a.region()),
                    postal_code: owned(a.postal_code()),
                    country: owned(a.country()),
                    formatted: owned(a.formatted()),
                    kind: owned(a.r#type()),
                    primary: Some(a.primary()),
                })
                .collect(),
        ),
        phone_numbers: Some(
            out.phone_numbers()
                .iter()
                .map(|p| contact(p.value(), p.r#type(), p.primary()))
                .collect(),
        ),
        user_type: owned(out.user_type()),
        title: owned(out.title()),
        preferred_language: owned(out.preferred_language()),
        locale: owned(out.locale()),
        timezone: owned(out.timezone()),
        website: owned(out.website()),
        birthdate: owned(out.birthdate()),
        photos: Some(
            out.photos()
                .iter()
                .map(|p| PhotoSpec {
                    value: p.value().to_owned(),
                    kind: owned(p.r#type()),
                    display: owned(p.display()),
                    primary: Some(p.primary()),
                })
                .collect(),
        ),
        roles: Some(
            out.roles()
                .iter()
                .map(|r| RoleSpec {
                    value: owned(r.value()),
                    kind: owned(r.r#type()),
                    primary: Some(r.primary()),
                })
                .collect(),
        ),
        enterprise: stored_enterprise(out.extensions()),
    }
}

/// UpdateUser's (and UpdateGroup's) operation for one change.
pub(super) fn operation(change: &Change) -> AttributeOperation {
    AttributeOperation::builder()
        .attribute_path(change.path.clone())
        .attribute_value(document(&change.value))
        .build()
        .expect("the path is set")
}

fn document(value: &Value) -> Document {
    match value {
        Value::Text(text) => Document::String(text.clone()),
        Value::Bool(flag) => Document::Bool(*flag),
        Value::Items(items) => Document::Array(items.iter().map(|fields| object(fields)).collect()),
        Value::Object(fields) => object(fields),
    }
}

fn object(fields: &[(&'static str, Value)]) -> Document {
    Document::Object(
        fields
            .iter()
            .map(|(key, value)| ((*key).to_owned(), document(value)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
    use aws_sdk_identitystore::types::{AttributeOperation, Email, Name, Photo};
    use aws_smithy_types::Document;
    use pretty_assertions::assert_eq;

    use crate::testing::{self, out};
    use crate::{OnboardRequest, UserSpec};

    /// What onboard-user sends for `wanted` against a user DescribeUser returned.
    fn plan(wanted: &UserSpec, stored: &DescribeUserOutput) -> (Vec<AttributeOperation>, Vec<&'static str>) {
        let (changes, changed) = crate::contract::user::convergence(wanted, &super::stored(stored));
        (changes.iter().map(super::operation).collect(), changed)
    }

    #[test]
    fn convergence_updates_only_the_attributes_that_differ_and_keeps_unset_parts() {
        let request: OnboardRequest = crate::decode(testing::fixture("onboard-user/mover.json")).unwrap();
        let stored = out::described_user("user-alice", "alice.archer")
            .display_name("Alice Archer")
            .name(
                Name::builder()
                    .given_name("Alice")
                    .family_name("Archer")
                    .middle_name("Q")
                    .build(),
            )
            .emails(
                Email::builder()
                    .value("alice.archer@example.com")
                    .r#type("work")
                    .primary(true)
                    .build(),
            )
            .title("Software Engineer")
            .locale("de-DE")
            .build()
            .unwrap();

        let (operations, changed) = plan(&request.user, &stored);

        assert_eq!(changed, ["emails", "title"]);
        let paths: Vec<&str> = operations.iter().map(AttributeOperation::attribute_path).collect();
        assert_eq!(paths, ["emails", "title"]);
        let emails = operations[0].attribute_value().unwrap().as_array().unwrap();
        let email = emails[0].as_object().unwrap();
        assert_eq!(email["Value"].as_string(), Some("alice.archer@platform.example.com"));
        assert_eq!(email["Type"].as_string(), Some("work"));
        assert_eq!(email["Primary"].as_bool(), Some(true));
    }

    #[test]
    fn create_sets_every_attribute_of_the_table_from_a_user_that_has_them_all() {
        let request: OnboardRequest =
            crate::decode(testing::fixture("onboard-user/joiner.every-attribute.json")).unwrap();
        let user = request.user;
        let client = testing::client(&[]);

        let input = super::create(client.create_user(), &user);
        let input = input.as_input();

        let texts = [
            input.get_user_name(),
            input.get_display_name(),
            input.get_nick_name(),
            input.get_profile_url(),
            input.get_user_type(),
            input.get_title(),
            input.get_preferred_language(),
            input.get_locale(),
            input.get_timezone(),
            input.get_website(),
            input.get_birthdate(),
        ];
        assert!(texts.iter().all(|t| t.is_some()), "{input:?}");
        let name = input.get_name().as_ref().unwrap();
        assert_eq!(
            (name.given_name(), name.middle_name(), name.honorific_suffix()),
            (Some("Dana"), Some("Rae"), Some("PhD"))
        );
        let email = &input.get_emails().as_ref().unwrap()[0];
        assert_eq!(
            (email.value(), email.r#type(), email.primary()),
            (Some("dana.diaz@example.com"), Some("work"), true)
        );
        // Phone and address are compared whole in the round trip at the end.
        let photos = input.get_photos().as_ref().unwrap();
        assert_eq!(
            photos
                .iter()
                .map(|p| (p.value(), p.r#type(), p.display(), p.primary()))
                .collect::<Vec<_>>(),
            [
                (
                    "https://intranet.example.com/photos/dana.jpg",
                    Some("photo"),
                    Some("Badge photo"),
                    true
                ),
                (
                    "https://intranet.example.com/photos/dana-small.png",
                    Some("thumbnail"),
                    None,
                    false
                ),
            ]
        );
        let role = &input.get_roles().as_ref().unwrap()[0];
        assert_eq!((role.value(), role.r#type()), (Some("Account Executive"), Some("work")));
        let enterprise = input.get_extensions().as_ref().unwrap()["aws:identitystore:enterprise"]
            .as_object()
            .unwrap();
        let mut members: Vec<&str> = enterprise.keys().map(String::as_str).collect();
        members.sort_unstable();
        assert_eq!(
            members,
            [
                "costCenter",
                "department",
                "division",
                "employeeNumber",
                "manager",
                "organization"
            ]
        );
        assert_eq!(enterprise["department"].as_string(), Some("Sales"));
        assert_eq!(
            enterprise["manager"].as_object().unwrap()["value"].as_string(),
            Some("alice.archer")
        );
        // And read back as stored, nothing is left to converge.
        let stored = out::described_user("u", "dana.diaz")
            .set_display_name(input.get_display_name().clone())
            .set_name(input.get_name().clone())
            .set_nick_name(input.get_nick_name().clone())
            .set_profile_url(input.get_profile_url().clone())
            .set_emails(input.get_emails().clone())
            .set_phone_numbers(input.get_phone_numbers().clone())
            .set_addresses(input.get_addresses().clone())
            .set_user_type(input.get_user_type().clone())
            .set_title(input.get_title().clone())
            .set_preferred_language(input.get_preferred_language().clone())
            .set_locale(input.get_locale().clone())
            .set_timezone(input.get_timezone().clone())
            .set_website(input.get_website().clone())
            .set_birthdate(input.get_birthdate().clone())
            .set_photos(input.get_photos().clone())
            .set_roles(input.get_roles().clone())
            .set_extensions(input.get_extensions().clone())
            .build()
            .unwrap();
        assert_eq!(plan(&user, &stored), (Vec::new(), Vec::new()));
    }

    #[test]
    fn photos_are_replaced_as_a_list_when_one_differs_or_the_count_changes() {
        let stored = out::stored_alice_builder()
            .photos(Photo::builder().value("a.jpg").primary(true).build().unwrap())
            .photos(Photo::builder().value("b.jpg").display("Old").build().unwrap())
            .build()
            .unwrap();
        let with_photos = |photos: serde_json::Value| {
            let mut request = testing::fixture("onboard-user/unchanged.json");
            request["user"]["photos"] = photos;
            crate::decode::<OnboardRequest>(request).unwrap().user
        };

        let same = with_photos(serde_json::json!([{ "value": "a.jpg" }, { "value": "b.jpg" }]));
        assert_eq!(plan(&same, &stored), (Vec::new(), Vec::new()));

        let (operations, changed) = plan(&with_photos(serde_json::json!([{ "value": "a.jpg" }])), &stored);
        assert_eq!(changed, ["photos"]);
        assert_eq!(operations[0].attribute_value().unwrap().as_array().unwrap().len(), 1);

        let (operations, _) = plan(
            &with_photos(serde_json::json!([{ "value": "a.jpg" }, { "value": "c.jpg" }])),
            &stored,
        );
        let items = operations[0].attribute_value().unwrap().as_array().unwrap();
        // Unset fields keep the stored item's at the same place.
        assert_eq!(items[0].as_object().unwrap()["Primary"].as_bool(), Some(true));
        assert_eq!(items[1].as_object().unwrap()["Value"].as_string(), Some("c.jpg"));
        assert_eq!(items[1].as_object().unwrap()["Display"].as_string(), Some("Old"));
    }

    #[test]
    fn enterprise_members_the_request_leaves_out_are_kept_and_the_rest_set_by_path() {
        let stored = out::stored_alice_builder()
            .extensions(
                "aws:identitystore:enterprise",
                Document::Object(
                    [
                        ("department".to_owned(), Document::String("Sales".into())),
                        ("division".to_owned(), Document::String("Commercial".into())),
                    ]
                    .into(),
                ),
            )
            .build()
            .unwrap();
        let mut request = testing::fixture("onboard-user/unchanged.json");
        request["user"]["enterprise"] = serde_json::json!({ "department": "Engineering", "manager": "user-bob" });
        let user = crate::decode::<OnboardRequest>(request).unwrap().user;

        let (operations, changed) = plan(&user, &stored);

        assert_eq!(changed, ["enterprise"]);
        let paths: Vec<&str> = operations.iter().map(AttributeOperation::attribute_path).collect();
        assert_eq!(
            paths,
            [
                "aws:identitystore:enterprise.department",
                "aws:identitystore:enterprise.manager"
            ]
        );
        let manager = operations[1].attribute_value().unwrap().as_object().unwrap();
        assert_eq!(manager["value"].as_string(), Some("user-bob"));
    }

    #[test]
    fn convergence_of_a_matching_user_is_empty() {
        let request: OnboardRequest = crate::decode(testing::fixture("onboard-user/unchanged.json")).unwrap();
        let stored = out::stored_alice();

        let (operations, changed) = plan(&request.user, &stored);

        assert!(operations.is_empty() && changed.is_empty());
    }

    #[test]
    fn a_changed_name_part_is_set_by_sub_path_and_reported_as_name() {
        let mut request: OnboardRequest = crate::decode(testing::fixture("onboard-user/unchanged.json")).unwrap();
        request.user.name.family_name = "Archer-Bow".into();
        let stored = out::stored_alice();

        let (operations, changed) = plan(&request.user, &stored);

        assert_eq!(changed, ["name"]);
        assert_eq!(operations.len(), 1);
        assert_eq!(operations[0].attribute_path(), "name.familyName");
        assert_eq!(operations[0].attribute_value().unwrap().as_string(), Some("Archer-Bow"));
    }
}
