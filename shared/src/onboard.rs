//! onboard-user: the joiner and the mover.

use std::collections::HashSet;

use aws_sdk_identitystore::operation::describe_user::DescribeUserOutput;
use aws_sdk_identitystore::types::{Address, AttributeOperation, Email, Name, PhoneNumber};
use aws_smithy_types::Document;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use crate::request::{AddressSpec, ContactSpec, OnboardRequest, UserSpec};
use crate::store::Ensured;
use crate::{Deadline, Error, Service};

/// `status` of onboard-user's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum OnboardStatus {
    Created,
    Updated,
    Unchanged,
}

/// `groups` of onboard-user's result: display names, in request order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOutcome {
    pub added: Vec<String>,
    pub already_member: Vec<String>,
    pub created: Vec<String>,
}

/// onboard-user's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OnboardResult {
    pub user_id: String,
    pub user_name: String,
    pub status: OnboardStatus,
    pub updated_attributes: Vec<&'static str>,
    pub groups: GroupOutcome,
}

impl Service {
    /// Creates the user or converges it, then ensures the listed memberships.
    ///
    /// Create-first: a joiner costs CreateUser plus, per group, GetGroupId and
    /// CreateGroupMembership. An existing user surfaces as a uniqueness conflict and is
    /// converged with at most one UpdateUser.
    pub async fn onboard(&self, deadline: Deadline, request: OnboardRequest) -> Result<OnboardResult, Error> {
        let OnboardRequest { user, groups } = request;
        let groups = dedup(groups.unwrap_or_default());
        self.refuse_leavers_group("groups", &groups)?;

        // With group creation off, a missing group must fail the request before any write.
        let known_groups = if self.config.create_missing_groups {
            None
        } else {
            let ids = self.group_ids(deadline, &groups).await?;
            let missing: Vec<&str> = groups
                .iter()
                .zip(&ids)
                .filter(|(_, id)| id.is_none())
                .map(|(name, _)| name.as_str())
                .collect();
            if !missing.is_empty() {
                return Err(Error::GroupNotFound {
                    missing: missing.len(),
                    names: missing.join(", "),
                });
            }
            Some(ids.into_iter().flatten().collect::<Vec<_>>())
        };

        let ensured = self
            .store
            .create_user(deadline, &user.user_name, &create_request(self, &user))
            .await?;
        let (status, updated_attributes) = match &ensured {
            Ensured::Created(_) => (OnboardStatus::Created, Vec::new()),
            Ensured::Existing(id) => {
                let stored = self
                    .store
                    .describe_user(deadline, id)
                    .await?
                    .ok_or_else(|| vanished("DescribeUser"))?;
                let (operations, changed) = convergence(&user, &stored);
                if operations.is_empty() {
                    (OnboardStatus::Unchanged, changed)
                } else {
                    self.store.update_user(deadline, id, &operations).await?;
                    (OnboardStatus::Updated, changed)
                }
            }
        };
        let user_id = ensured.id().to_owned();
        tracing::info!(user_id, ?status, changed = updated_attributes.len(), "user converged");

        // Onboarding an existing user says the person is active: a revoke's mark goes.
        let unmark = async {
            match &ensured {
                Ensured::Existing(_) => self.unmark(deadline, &user_id).await,
                Ensured::Created(_) => Ok(false),
            }
        };
        let (groups, unmarked) = futures_util::try_join!(
            self.ensure_memberships(deadline, &user_id, &ensured, groups, known_groups),
            unmark,
        )?;
        // `status` is about the user's attributes; the mark is a membership.
        if unmarked {
            tracing::info!(user_id, "leaver mark removed");
        }
        Ok(OnboardResult {
            user_id,
            user_name: user.user_name,
            status,
            updated_attributes,
            groups,
        })
    }

    async fn group_ids(&self, deadline: Deadline, names: &[String]) -> Result<Vec<Option<String>>, Error> {
        stream::iter(names)
            .map(|name| self.store.group_id(deadline, name))
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await
    }

    async fn ensure_memberships(
        &self,
        deadline: Deadline,
        user_id: &str,
        user: &Ensured,
        names: Vec<String>,
        known_groups: Option<Vec<String>>,
    ) -> Result<GroupOutcome, Error> {
        let mut outcome = GroupOutcome::default();
        if names.is_empty() {
            return Ok(outcome);
        }
        let groups: Vec<Ensured> = match known_groups {
            Some(ids) => ids.into_iter().map(Ensured::Existing).collect(),
            None => {
                stream::iter(&names)
                    .map(|name| async move {
                        match self.store.group_id(deadline, name).await? {
                            Some(id) => Ok(Ensured::Existing(id)),
                            None => self.store.create_group(deadline, name, None).await,
                        }
                    })
                    .buffered(self.config.write_concurrency)
                    .try_collect()
                    .await?
            }
        };
        // A user this call created, and groups it created, cannot have memberships yet;
        // only pre-existing pairs need the (single) IsMemberInGroups check.
        let existing: Vec<String> = match user {
            Ensured::Created(_) => Vec::new(),
            Ensured::Existing(_) => groups
                .iter()
                .filter_map(|g| match g {
                    Ensured::Existing(id) => Some(id.clone()),
                    Ensured::Created(_) => None,
                })
                .collect(),
        };
        let already: HashSet<String> = if existing.is_empty() {
            HashSet::new()
        } else {
            self.store
                .member_of(deadline, user_id, &existing)
                .await?
                .into_iter()
                .collect()
        };
        let to_add: Vec<(&String, &Ensured)> = names
            .iter()
            .zip(&groups)
            .filter(|(_, g)| !already.contains(g.id()))
            .collect();
        let added: Vec<Ensured> = stream::iter(&to_add)
            .map(|(_, group)| self.store.create_membership(deadline, group.id(), user_id))
            .buffered(self.config.write_concurrency)
            .try_collect()
            .await?;
        let added_by_us: HashSet<&str> = to_add
            .iter()
            .zip(&added)
            .filter(|(_, m)| matches!(m, Ensured::Created(_)))
            .map(|((_, g), _)| g.id())
            .collect();
        for (name, group) in names.iter().zip(&groups) {
            if matches!(group, Ensured::Created(_)) {
                outcome.created.push(name.clone());
            }
            if added_by_us.contains(group.id()) {
                outcome.added.push(name.clone());
            } else {
                outcome.already_member.push(name.clone());
            }
        }
        tracing::info!(
            user_id,
            added = outcome.added.len(),
            already_member = outcome.already_member.len(),
            created_groups = outcome.created.len(),
            "memberships ensured"
        );
        Ok(outcome)
    }
}

fn vanished(operation: &'static str) -> Error {
    Error::ConcurrentModification {
        operation,
        detail: "the user was deleted during the request".into(),
    }
}

/// Drops repeated names, keeping the first occurrence's position.
pub(crate) fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    names.into_iter().filter(|n| seen.insert(n.clone())).collect()
}

fn create_request(
    service: &Service,
    user: &UserSpec,
) -> aws_sdk_identitystore::operation::create_user::builders::CreateUserFluentBuilder {
    let n = &user.name;
    service
        .store
        .create_user_request()
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

fn set(path: &str, value: Document) -> AttributeOperation {
    AttributeOperation::builder()
        .attribute_path(path)
        .attribute_value(value)
        .build()
        .expect("the path is set")
}

fn text(value: &str) -> Document {
    Document::String(value.to_owned())
}

fn object(fields: Vec<(&str, Option<Document>)>) -> Document {
    Document::Object(
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_owned(), v?)))
            .collect(),
    )
}

/// Whether a field the request gives differs from the stored one. Absent request
/// fields never count: the contract leaves them alone.
fn differs<T: PartialEq + ?Sized>(wanted: Option<&T>, stored: Option<&T>) -> bool {
    wanted.is_some_and(|w| Some(w) != stored)
}

/// The UpdateUser operations that bring `stored` to `user`, and the request fields
/// they change (in the request's field order).
///
/// Single-valued strings are set by path; `name` by sub-path, so that unset name parts
/// are kept; the multi-valued attributes (`emails`, `addresses`, `phoneNumbers`) are
/// replaced whole, as the service requires, with the stored item's unset parts kept.
pub fn convergence(user: &UserSpec, stored: &DescribeUserOutput) -> (Vec<AttributeOperation>, Vec<&'static str>) {
    let mut plan = Plan::default();
    plan.scalar("displayName", Some(&user.display_name), stored.display_name());

    let n = &user.name;
    let current = stored.name();
    let name_parts = [
        (
            "name.givenName",
            Some(n.given_name.as_str()),
            current.and_then(Name::given_name),
        ),
        (
            "name.familyName",
            Some(n.family_name.as_str()),
            current.and_then(Name::family_name),
        ),
        (
            "name.middleName",
            n.middle_name.as_deref(),
            current.and_then(Name::middle_name),
        ),
        (
            "name.formatted",
            n.formatted.as_deref(),
            current.and_then(Name::formatted),
        ),
        (
            "name.honorificPrefix",
            n.honorific_prefix.as_deref(),
            current.and_then(Name::honorific_prefix),
        ),
        (
            "name.honorificSuffix",
            n.honorific_suffix.as_deref(),
            current.and_then(Name::honorific_suffix),
        ),
    ];
    let before = plan.operations.len();
    for (path, wanted, have) in name_parts {
        if differs(wanted, have) {
            plan.operations.push(set(path, text(wanted.unwrap_or_default())));
        }
    }
    if plan.operations.len() > before {
        plan.changed.push("name");
    }

    plan.scalar("nickName", user.nick_name.as_deref(), stored.nick_name());
    plan.scalar("profileUrl", user.profile_url.as_deref(), stored.profile_url());

    if let Some([wanted]) = user.emails.as_deref() {
        let have = stored.emails().first();
        let fields = [
            ("Value", Some(wanted.value.as_str()), have.and_then(Email::value)),
            ("Type", wanted.kind.as_deref(), have.and_then(Email::r#type)),
        ];
        plan.multi_value("emails", &fields, wanted.primary, have.map(Email::primary));
    }
    if let Some([wanted]) = user.addresses.as_deref() {
        let have = stored.addresses().first();
        let fields = [
            (
                "StreetAddress",
                wanted.street_address.as_deref(),
                have.and_then(Address::street_address),
            ),
            ("Locality", wanted.locality.as_deref(), have.and_then(Address::locality)),
            ("Region", wanted.region.as_deref(), have.and_then(Address::region)),
            (
                "PostalCode",
                wanted.postal_code.as_deref(),
                have.and_then(Address::postal_code),
            ),
            ("Country", wanted.country.as_deref(), have.and_then(Address::country)),
            (
                "Formatted",
                wanted.formatted.as_deref(),
                have.and_then(Address::formatted),
            ),
            ("Type", wanted.kind.as_deref(), have.and_then(Address::r#type)),
        ];
        plan.multi_value("addresses", &fields, wanted.primary, have.map(Address::primary));
    }
    if let Some([wanted]) = user.phone_numbers.as_deref() {
        let have = stored.phone_numbers().first();
        let fields = [
            ("Value", Some(wanted.value.as_str()), have.and_then(PhoneNumber::value)),
            ("Type", wanted.kind.as_deref(), have.and_then(PhoneNumber::r#type)),
        ];
        plan.multi_value("phoneNumbers", &fields, wanted.primary, have.map(PhoneNumber::primary));
    }

    plan.scalar("userType", user.user_type.as_deref(), stored.user_type());
    plan.scalar("title", user.title.as_deref(), stored.title());
    plan.scalar(
        "preferredLanguage",
        user.preferred_language.as_deref(),
        stored.preferred_language(),
    );
    plan.scalar("locale", user.locale.as_deref(), stored.locale());
    plan.scalar("timezone", user.timezone.as_deref(), stored.timezone());
    (plan.operations, plan.changed)
}

#[derive(Default)]
struct Plan {
    operations: Vec<AttributeOperation>,
    changed: Vec<&'static str>,
}

impl Plan {
    fn scalar(&mut self, field: &'static str, wanted: Option<&str>, current: Option<&str>) {
        if let Some(wanted) = wanted.filter(|w| Some(*w) != current) {
            self.operations.push(set(field, text(wanted)));
            self.changed.push(field);
        }
    }

    /// A whole-attribute replacement for a one-item multi-valued attribute, when any
    /// given field differs; unset fields keep their stored value.
    fn multi_value(
        &mut self,
        path: &'static str,
        fields: &[(&str, Option<&str>, Option<&str>)],
        primary: Option<bool>,
        stored_primary: Option<bool>,
    ) {
        let changed = fields.iter().any(|(_, wanted, have)| differs(*wanted, *have))
            || primary.is_some_and(|p| Some(p) != stored_primary);
        if !changed {
            return;
        }
        let mut item: Vec<(&str, Option<Document>)> = fields
            .iter()
            .map(|(key, wanted, have)| (*key, wanted.or(*have).map(text)))
            .collect();
        item.push(("Primary", primary.or(stored_primary).map(Document::Bool)));
        self.operations.push(set(path, Document::Array(vec![object(item)])));
        self.changed.push(path);
    }
}
