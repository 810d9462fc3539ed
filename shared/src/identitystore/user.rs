//! The contract's user in the SDK's shapes: CreateUser's input, DescribeUser's output
//! and UpdateUser's operations. The attributes themselves are listed once, in
//! `contract/user.rs`; this is only the SDK's typed spelling of each.

use aws_sdk_identitystore::operation::create_user::builders::CreateUserFluentBuilder;
use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
use aws_sdk_identitystore::types::{Address, AttributeOperation, Email, Name, PhoneNumber};
use aws_smithy_types::Document;

use crate::contract::user::{Change, Value};
use crate::{AddressSpec, ContactSpec, NameSpec, UserSpec};

/// CreateUser with every attribute the request gives.
pub(super) fn create(request: CreateUserFluentBuilder, user: &UserSpec) -> CreateUserFluentBuilder {
    let n = &user.name;
    request
        .user_name(&user.user_name)
        .display_name(&user.display_name)
        .name(
            Name::builder()
                .given_name(&n.given_name)
                .family_name(&n.family_name)
                .set_middle_name(n.middle_name.clone())
                .set_formatted(n.formatted.clone())
                .set_honorific_prefix(n.honorific_prefix.clone())
                .set_honorific_suffix(n.honorific_suffix.clone())
                .build(),
        )
        .set_nick_name(user.nick_name.clone())
        .set_profile_url(user.profile_url.clone())
        .set_emails(user.emails.as_ref().map(|list| list.iter().map(email).collect()))
        .set_addresses(user.addresses.as_ref().map(|list| list.iter().map(address).collect()))
        .set_phone_numbers(user.phone_numbers.as_ref().map(|list| list.iter().map(phone).collect()))
        .set_user_type(user.user_type.clone())
        .set_title(user.title.clone())
        .set_preferred_language(user.preferred_language.clone())
        .set_locale(user.locale.clone())
        .set_timezone(user.timezone.clone())
}

fn email(c: &ContactSpec) -> Email {
    Email::builder()
        .value(&c.value)
        .set_type(c.kind.clone())
        .set_primary(c.primary)
        .build()
}

fn phone(c: &ContactSpec) -> PhoneNumber {
    PhoneNumber::builder()
        .value(&c.value)
        .set_type(c.kind.clone())
        .set_primary(c.primary)
        .build()
}

fn address(a: &AddressSpec) -> Address {
    Address::builder()
        .set_street_address(a.street_address.clone())
        .set_locality(a.locality.clone())
        .set_region(a.region.clone())
        .set_postal_code(a.postal_code.clone())
        .set_country(a.country.clone())
        .set_formatted(a.formatted.clone())
        .set_type(a.kind.clone())
        .set_primary(a.primary)
        .build()
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
    }
}

/// UpdateUser's (and UpdateGroup's) operation for one change.
pub(super) fn operation(change: &Change) -> AttributeOperation {
    AttributeOperation::builder()
        .attribute_path(change.path)
        .attribute_value(document(&change.value))
        .build()
        .expect("the path is set")
}

fn document(value: &Value) -> Document {
    match value {
        Value::Text(text) => Document::String(text.clone()),
        Value::Bool(flag) => Document::Bool(*flag),
        Value::Items(items) => Document::Array(
            items
                .iter()
                .map(|fields| {
                    Document::Object(
                        fields
                            .iter()
                            .map(|(key, value)| ((*key).to_owned(), document(value)))
                            .collect(),
                    )
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
    use aws_sdk_identitystore::types::{AttributeOperation, Email, Name};
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
