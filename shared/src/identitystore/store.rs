//! Every Identity Store call the functions make, behind the retry policy and the
//! idempotency rules, in domain types.
//!
//! Each method classifies its SDK error at the edge ([`super::fault`]) and returns
//! domain results: a create that meets a uniqueness conflict resolves to the existing
//! resource, a delete of something already gone succeeds, a lookup that finds nothing
//! is `None`.

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_identitystore::types::{AlternateIdentifier, MemberId, UniqueAttribute};
use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::Document;

use super::fault::{Classify, Fault, classify_sdk};
use super::pace::{Pacer, PastDeadline};
use super::retry::{Exhausted, RetryPolicy};
use super::user;
use crate::cloudwatch::Metric;
use crate::contract::user::{Change, ENTERPRISE_EXTENSION, Value};
use crate::{Deadline, Error, UserSpec};

/// Page size for every list call: the API's maximum, so a listing costs the fewest calls.
pub(crate) const PAGE_SIZE: i32 = 100;

/// The outcome of an idempotent create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    /// This call created it.
    Created(String),
    /// It was already there (found through a uniqueness conflict).
    Existing(String),
}

impl Ensured {
    pub fn id(&self) -> &str {
        match self {
            Self::Created(id) | Self::Existing(id) => id,
        }
    }
}

/// A group membership as listed: `(membership id, group id, member user id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
// The field names are the API's own.
#[allow(clippy::struct_field_names)]
pub(crate) struct Membership {
    pub(crate) membership_id: String,
    pub(crate) group_id: String,
    pub(crate) user_id: String,
}

/// The Identity Store operations Turnstile uses, for one identity store.
#[derive(Debug, Clone)]
pub struct IdentityStore {
    client: Client,
    store_id: String,
    retry: RetryPolicy,
    pacer: std::sync::Arc<Pacer>,
}

type Sdk<E> = SdkError<E, HttpResponse>;

impl IdentityStore {
    /// `client` must have the SDK's own retries disabled (see [`super::client`]):
    /// this type retries every call itself.
    pub fn new(client: Client, store_id: impl Into<String>, retry: RetryPolicy) -> Self {
        Self {
            client,
            store_id: store_id.into(),
            retry,
            pacer: std::sync::Arc::new(Pacer::new(0, 0)),
        }
    }

    /// Paces every API between `floor` and `ceiling` calls per second (a floor of 0:
    /// no pacing). See [`super::pace`].
    #[must_use]
    pub fn with_pacing(mut self, floor: u32, ceiling: u32) -> Self {
        self.pacer = std::sync::Arc::new(Pacer::new(floor, ceiling));
        self
    }

    /// Waits for `operation`'s pacing slot; a slot past the deadline is a throttle the
    /// retry policy then gives up on.
    async fn paced(&self, operation: &'static str, deadline: Deadline) -> Result<(), Fault> {
        crate::jobs::check_declared(operation);
        self.pacer
            .ready(operation, deadline)
            .await
            .map_err(|PastDeadline(wait)| Fault::Throttling {
                retry_after: None,
                message: format!(
                    "client-side pacing has no slot before the deadline (next in {} ms)",
                    wait.as_millis()
                ),
            })
    }

    /// Tells the pacer how a call went.
    fn observe<T>(&self, operation: &'static str, result: &Result<T, Fault>) {
        match result {
            Ok(_) => self.pacer.succeeded(operation),
            Err(fault @ Fault::Throttling { .. }) => {
                Metric::Throttles.count();
                self.pacer.throttled(operation, fault.retry_after());
            }
            Err(_) => {}
        }
    }

    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    async fn call<T, E, Fut>(
        &self,
        operation: &'static str,
        deadline: Deadline,
        send: impl Fn() -> Fut,
    ) -> Result<T, Exhausted>
    where
        Fut: Future<Output = Result<T, Sdk<E>>>,
        E: Classify + ProvideErrorMetadata,
    {
        self.retry
            .run(operation, deadline, || async {
                self.paced(operation, deadline).await?;
                let result = send().await.map_err(classify_sdk);
                self.observe(operation, &result);
                result
            })
            .await
    }

    /// Reads every page of a listing. Pages come from the SDK paginator; when a page
    /// fails transiently, a fresh paginator resumes from the last page's token after the
    /// policy's wait, so a throttle on page 90 does not re-read pages 1 to 89.
    async fn list_all<T, O, E>(
        &self,
        operation: &'static str,
        deadline: Deadline,
        pages_from: impl Fn(Option<String>) -> PaginationStream<Result<O, Sdk<E>>>,
        split: impl Fn(O) -> (Vec<T>, Option<String>),
    ) -> Result<Vec<T>, Error>
    where
        E: Classify + ProvideErrorMetadata,
    {
        let mut items = Vec::new();
        let mut resume = None;
        let mut failed = 0;
        loop {
            let mut pages = pages_from(resume.clone());
            // The paginator sends a request for the first page and for each page after
            // one that carried a token; only those take a pacing slot.
            let mut sends = true;
            let fault = loop {
                if sends {
                    if let Err(fault) = self.paced(operation, deadline).await {
                        break fault;
                    }
                }
                let next = match deadline.remaining() {
                    None => pages.next().await,
                    Some(left) => match tokio::time::timeout(left, pages.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            break Fault::Transport {
                                message: "the call ran into the deadline".into(),
                            };
                        }
                    },
                };
                match next {
                    None => return Ok(items),
                    Some(Ok(page)) => {
                        self.pacer.succeeded(operation);
                        let (batch, token) = split(page);
                        items.extend(batch);
                        sends = token.is_some();
                        resume = token;
                        failed = 0;
                    }
                    Some(Err(err)) => {
                        let failed_page = Err(classify_sdk(err));
                        self.observe::<()>(operation, &failed_page);
                        if let Err(fault) = failed_page {
                            break fault;
                        }
                    }
                }
            };
            failed += 1;
            let wait = self
                .retry
                .next_wait(operation, failed, fault, deadline)
                .map_err(|e| e.into_error(operation))?;
            tokio::time::sleep(wait).await;
        }
    }

    fn unique_identifier(path: &str, value: &str) -> AlternateIdentifier {
        AlternateIdentifier::UniqueAttribute(
            UniqueAttribute::builder()
                .attribute_path(path)
                .attribute_value(Document::String(value.to_owned()))
                .build()
                .expect("path and value are set"),
        )
    }

    /// GetUserId by userName; `None` when no user has it.
    pub async fn user_id(&self, deadline: Deadline, user_name: &str) -> Result<Option<String>, Error> {
        self.user_id_by(deadline, "userName", user_name).await
    }

    /// GetUserId by a unique attribute (`userName` or `emails.value`); `None` when no
    /// user has it.
    async fn user_id_by(&self, deadline: Deadline, path: &str, value: &str) -> Result<Option<String>, Error> {
        let id = Self::unique_identifier(path, value);
        let found = self
            .call("GetUserId", deadline, || {
                self.client
                    .get_user_id()
                    .identity_store_id(&self.store_id)
                    .alternate_identifier(id.clone())
                    .send()
            })
            .await;
        absent_is_none(found.map(|out| out.user_id), "GetUserId")
    }

    /// DescribeUser, as the contract's user with its status; with `enterprise`, the
    /// enterprise extension too (the service returns extensions only when asked).
    pub(crate) async fn describe_user(
        &self,
        deadline: Deadline,
        user_id: &str,
        enterprise: bool,
    ) -> Result<Option<StoredUser>, Error> {
        let extensions = enterprise.then(|| vec![ENTERPRISE_EXTENSION.to_owned()]);
        let found = self
            .call("DescribeUser", deadline, || {
                self.client
                    .describe_user()
                    .identity_store_id(&self.store_id)
                    .user_id(user_id)
                    .set_extensions(extensions.clone())
                    .send()
            })
            .await;
        absent_is_none(
            found.map(|out| StoredUser {
                user: user::stored(&out),
                status: out.user_status().map(|status| status.as_str().to_owned()),
            }),
            "DescribeUser",
        )
    }

    /// CreateUser with every attribute `user` gives, or the existing user's id when the
    /// userName is taken.
    pub async fn create_user(&self, deadline: Deadline, user: &UserSpec) -> Result<Ensured, Error> {
        let request = user::create(self.client.create_user(), user);
        let created = self
            .call("CreateUser", deadline, || {
                request.clone().identity_store_id(&self.store_id).send()
            })
            .await;
        existing_on_conflict(created.map(|out| out.user_id), "CreateUser", async {
            if let Some(id) = self.user_id(deadline, &user.user_name).await? {
                return Ok(Some(id));
            }
            // The userName is free, so the conflict was on another unique attribute: an
            // email address, which Identity Center requires to be unique. A retry would
            // meet it again, so it is the request's problem, named without its value.
            for email in user.emails.iter().flatten() {
                if self.user_id_by(deadline, "emails.value", &email.value).await?.is_some() {
                    return Err(Error::Rejected {
                        operation: "CreateUser",
                        reason: format!("another user already has the email address in user.emails; {UNIQUE_EMAILS}"),
                    });
                }
            }
            Ok(None)
        })
        .await
        .inspect(|ensured| counted(ensured, Metric::UsersCreated))
    }

    /// UpdateUser with the given changes (at most 100, as the API allows).
    pub(crate) async fn update_user(&self, deadline: Deadline, user_id: &str, changes: &[Change]) -> Result<(), Error> {
        let operations: Vec<_> = changes.iter().map(user::operation).collect();
        self.call("UpdateUser", deadline, || {
            self.client
                .update_user()
                .identity_store_id(&self.store_id)
                .user_id(user_id)
                .set_operations(Some(operations.clone()))
                .send()
        })
        .await
        .map(|_| Metric::UsersUpdated.count())
        .map_err(|e| match e.fault {
            // The user is the subject and exists, so a uniqueness conflict is about a
            // value this update sets that another user has (an email address).
            Fault::Uniqueness { .. } => Error::Rejected {
                operation: "UpdateUser",
                reason: format!(
                    "another user already has a value this update sets for a unique attribute ({}); {UNIQUE_EMAILS}",
                    unique_paths(changes)
                ),
            },
            _ => e.into_error("UpdateUser"),
        })
    }

    /// DeleteUser; a user already gone is success.
    pub async fn delete_user(&self, deadline: Deadline, user_id: &str) -> Result<(), Error> {
        let deleted = self
            .call("DeleteUser", deadline, || {
                self.client
                    .delete_user()
                    .identity_store_id(&self.store_id)
                    .user_id(user_id)
                    .send()
            })
            .await;
        gone_is_ok(deleted, "DeleteUser", Metric::UsersDeleted)
    }

    /// ListUsers, every page: `(user id, userName)`.
    pub async fn list_users(&self, deadline: Deadline) -> Result<Vec<(String, String)>, Error> {
        self.list_all(
            "ListUsers",
            deadline,
            |token| {
                self.client
                    .list_users()
                    .identity_store_id(&self.store_id)
                    .max_results(PAGE_SIZE)
                    .set_next_token(token)
                    .into_paginator()
                    .send()
            },
            |page| {
                let users = page
                    .users
                    .into_iter()
                    .filter_map(|user| Some((user.user_id, user.user_name?)))
                    .collect();
                (users, page.next_token)
            },
        )
        .await
    }

    /// GetGroupId by displayName; `None` when no group has it.
    pub(crate) async fn group_id(&self, deadline: Deadline, display_name: &str) -> Result<Option<String>, Error> {
        let id = Self::unique_identifier("displayName", display_name);
        let found = self
            .call("GetGroupId", deadline, || {
                self.client
                    .get_group_id()
                    .identity_store_id(&self.store_id)
                    .alternate_identifier(id.clone())
                    .send()
            })
            .await;
        absent_is_none(found.map(|out| out.group_id), "GetGroupId")
    }

    /// DescribeGroup: the group's description (`Some(None)`: it has none; `None`: no
    /// such group).
    pub(crate) async fn group_description(
        &self,
        deadline: Deadline,
        group_id: &str,
    ) -> Result<Option<Option<String>>, Error> {
        Ok(self
            .describe_group(deadline, group_id)
            .await?
            .map(|(_, description)| description))
    }

    /// DescribeGroup: `(displayName, description)`, `None` when the group is gone.
    pub(crate) async fn describe_group(
        &self,
        deadline: Deadline,
        group_id: &str,
    ) -> Result<Option<(Option<String>, Option<String>)>, Error> {
        let found = self
            .call("DescribeGroup", deadline, || {
                self.client
                    .describe_group()
                    .identity_store_id(&self.store_id)
                    .group_id(group_id)
                    .send()
            })
            .await;
        absent_is_none(found.map(|out| (out.display_name, out.description)), "DescribeGroup")
    }

    /// CreateGroup, or the existing group's id when the displayName is taken.
    pub(crate) async fn create_group(
        &self,
        deadline: Deadline,
        display_name: &str,
        description: Option<&str>,
    ) -> Result<Ensured, Error> {
        let created = self
            .call("CreateGroup", deadline, || {
                self.client
                    .create_group()
                    .identity_store_id(&self.store_id)
                    .display_name(display_name)
                    .set_description(description.map(str::to_owned))
                    .send()
            })
            .await;
        existing_on_conflict(
            created.map(|out| out.group_id),
            "CreateGroup",
            self.group_id(deadline, display_name),
        )
        .await
    }

    /// UpdateGroup: sets the description.
    pub(crate) async fn update_description(
        &self,
        deadline: Deadline,
        group_id: &str,
        description: &str,
    ) -> Result<(), Error> {
        let operation = user::operation(&Change {
            path: "description".into(),
            value: Value::Text(description.to_owned()),
        });
        self.call("UpdateGroup", deadline, || {
            self.client
                .update_group()
                .identity_store_id(&self.store_id)
                .group_id(group_id)
                .operations(operation.clone())
                .send()
        })
        .await
        .map(drop)
        .map_err(|e| e.into_error("UpdateGroup"))
    }

    /// CreateGroupMembership, or the existing membership when the pair is already there.
    pub async fn create_membership(&self, deadline: Deadline, group_id: &str, user_id: &str) -> Result<Ensured, Error> {
        let member = MemberId::UserId(user_id.to_owned());
        let created = self
            .call("CreateGroupMembership", deadline, || {
                self.client
                    .create_group_membership()
                    .identity_store_id(&self.store_id)
                    .group_id(group_id)
                    .member_id(member.clone())
                    .send()
            })
            .await;
        existing_on_conflict(
            created.map(|out| out.membership_id),
            "CreateGroupMembership",
            self.membership_id(deadline, group_id, user_id),
        )
        .await
        .inspect(|ensured| counted(ensured, Metric::MembershipsAdded))
    }

    /// GetGroupMembershipId; `None` when the user is not a member.
    pub(crate) async fn membership_id(
        &self,
        deadline: Deadline,
        group_id: &str,
        user_id: &str,
    ) -> Result<Option<String>, Error> {
        let member = MemberId::UserId(user_id.to_owned());
        let found = self
            .call("GetGroupMembershipId", deadline, || {
                self.client
                    .get_group_membership_id()
                    .identity_store_id(&self.store_id)
                    .group_id(group_id)
                    .member_id(member.clone())
                    .send()
            })
            .await;
        absent_is_none(found.map(|out| out.membership_id), "GetGroupMembershipId")
    }

    /// DeleteGroupMembership; a membership already gone is success.
    pub async fn delete_membership(&self, deadline: Deadline, membership_id: &str) -> Result<(), Error> {
        let deleted = self
            .call("DeleteGroupMembership", deadline, || {
                self.client
                    .delete_group_membership()
                    .identity_store_id(&self.store_id)
                    .membership_id(membership_id)
                    .send()
            })
            .await;
        gone_is_ok(deleted, "DeleteGroupMembership", Metric::MembershipsRemoved)
    }

    /// IsMemberInGroups for up to 100 groups: the subset of `group_ids` the user is in.
    pub(crate) async fn member_of(
        &self,
        deadline: Deadline,
        user_id: &str,
        group_ids: &[String],
    ) -> Result<Vec<String>, Error> {
        let mut member_of = Vec::new();
        for chunk in group_ids.chunks(100) {
            let out = self
                .call("IsMemberInGroups", deadline, || {
                    self.client
                        .is_member_in_groups()
                        .identity_store_id(&self.store_id)
                        .member_id(MemberId::UserId(user_id.to_owned()))
                        .set_group_ids(Some(chunk.to_vec()))
                        .send()
                })
                .await
                .map_err(|e| e.into_error("IsMemberInGroups"))?;
            member_of.extend(
                out.results
                    .into_iter()
                    .filter(|r| r.membership_exists)
                    .filter_map(|r| r.group_id),
            );
        }
        Ok(member_of)
    }

    /// ListGroupMembershipsForMember, every page.
    pub(crate) async fn memberships_of_user(
        &self,
        deadline: Deadline,
        user_id: &str,
    ) -> Result<Vec<Membership>, Error> {
        self.list_all(
            "ListGroupMembershipsForMember",
            deadline,
            |token| {
                self.client
                    .list_group_memberships_for_member()
                    .identity_store_id(&self.store_id)
                    .member_id(MemberId::UserId(user_id.to_owned()))
                    .max_results(PAGE_SIZE)
                    .set_next_token(token)
                    .into_paginator()
                    .send()
            },
            |page| (memberships(page.group_memberships), page.next_token),
        )
        .await
    }

    /// ListGroupMemberships, every page.
    pub(crate) async fn memberships_of_group(
        &self,
        deadline: Deadline,
        group_id: &str,
    ) -> Result<Vec<Membership>, Error> {
        self.list_all(
            "ListGroupMemberships",
            deadline,
            |token| {
                self.client
                    .list_group_memberships()
                    .identity_store_id(&self.store_id)
                    .group_id(group_id)
                    .max_results(PAGE_SIZE)
                    .set_next_token(token)
                    .into_paginator()
                    .send()
            },
            |page| (memberships(page.group_memberships), page.next_token),
        )
        .await
    }
}

fn memberships(listed: Vec<aws_sdk_identitystore::types::GroupMembership>) -> Vec<Membership> {
    listed
        .into_iter()
        .filter_map(|m| match (m.group_id, m.member_id) {
            (Some(group_id), Some(MemberId::UserId(user_id))) => Some(Membership {
                membership_id: m.membership_id,
                group_id,
                user_id,
            }),
            _ => None,
        })
        .collect()
}

/// The attributes an UpdateUser's uniqueness conflict can be about: the emails when it
/// sets them (the only unique attribute an update can set), else every one it sets.
fn unique_paths(changes: &[Change]) -> String {
    let paths = || changes.iter().map(|c| c.path.as_ref());
    if paths().any(|p| p == "emails") {
        "emails".to_owned()
    } else {
        paths().collect::<Vec<_>>().join(", ")
    }
}

/// A user as DescribeUser returns it.
#[derive(Debug, Clone)]
pub(crate) struct StoredUser {
    pub(crate) user: UserSpec,
    /// `UserStatus` (`ENABLED`, `DISABLED`), when the service reports it.
    pub(crate) status: Option<String>,
}

/// What a uniqueness conflict on anything but the subject itself tells the operator.
const UNIQUE_EMAILS: &str = "IAM Identity Center requires unique email addresses; nothing more was written";

/// An idempotent create's outcome: what it created, or, when the service answered
/// with a uniqueness conflict, the existing resource that `lookup` finds.
async fn existing_on_conflict(
    created: Result<String, Exhausted>,
    operation: &'static str,
    lookup: impl Future<Output = Result<Option<String>, Error>>,
) -> Result<Ensured, Error> {
    match created {
        Ok(id) => Ok(Ensured::Created(id)),
        Err(Exhausted {
            fault: Fault::Uniqueness { .. },
            ..
        }) => lookup.await?.map(Ensured::Existing).ok_or_else(|| {
            Error::vanished(
                operation,
                "the resource named in a uniqueness conflict could not be found; it changed meanwhile",
            )
        }),
        Err(e) => Err(e.into_error(operation)),
    }
}

fn absent_is_none<T>(result: Result<T, Exhausted>, operation: &'static str) -> Result<Option<T>, Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(Exhausted {
            fault: Fault::NotFound { .. },
            ..
        }) => Ok(None),
        Err(e) => Err(e.into_error(operation)),
    }
}

/// A delete's outcome: success whether this call deleted it (counted as `deleted`) or
/// it was already gone.
fn gone_is_ok<T>(result: Result<T, Exhausted>, operation: &'static str, deleted: Metric) -> Result<(), Error> {
    if absent_is_none(result, operation)?.is_some() {
        deleted.count();
    }
    Ok(())
}

/// Counts a create as `created` when this call created it (not when it was there).
fn counted(ensured: &Ensured, created: Metric) {
    if matches!(ensured, Ensured::Created(_)) {
        created.count();
    }
}
