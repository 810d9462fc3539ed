//! Classification of SDK errors, done once at the edge.
//!
//! Each operation has its own generated error enum; [`Classify`] folds them into one
//! [`Fault`] using the modelled variants and their typed members (`reason()`,
//! `retry_after_seconds()`), never the message text.

use std::time::Duration;

use aws_sdk_identitystore::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_identitystore::types::error::ResourceNotFoundException;
use aws_sdk_identitystore::types::{ConflictExceptionReason, ResourceNotFoundExceptionReason, ResourceType};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::Error;
use crate::contract::redact::redact;

/// What went wrong with one call, in the terms the retry policy and the idempotency
/// rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// ThrottlingException; `retry_after` is the service's hint when it gave one.
    Throttling {
        retry_after: Option<Duration>,
        message: String,
    },
    /// InternalServerException or any 5xx.
    Internal {
        retry_after: Option<Duration>,
        message: String,
    },
    /// ConflictException with reason CONCURRENT_MODIFICATION.
    ConcurrentModification { message: String },
    /// ConflictException with reason UNIQUENESS_CONSTRAINT_VIOLATION (or no reason,
    /// which the service only sends for uniqueness claims).
    Uniqueness { message: String },
    /// ResourceNotFoundException about the thing asked for (a user, group or membership).
    NotFound { message: String },
    /// ResourceNotFoundException with ResourceType IDENTITY_STORE: the configured store
    /// does not exist, or not in this region. Never "no such user" nor "already gone".
    StoreNotFound { message: String },
    /// ValidationException or ServiceQuotaExceededException.
    Rejected { message: String },
    /// AccessDeniedException.
    AccessDenied { message: String },
    /// No response: timeouts, connection failures, unparseable responses.
    Transport { message: String },
}

impl Fault {
    /// Whether waiting and trying again can help.
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Throttling { .. }
                | Self::Internal { .. }
                | Self::ConcurrentModification { .. }
                | Self::Transport { .. }
        )
    }

    /// The service's own wait hint, if it sent one above zero.
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttling { retry_after, .. } | Self::Internal { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The contract error for a fault that nothing inside the function can absorb.
    pub fn into_error(self, operation: &'static str) -> Error {
        match self {
            Self::Throttling { message, .. } => Error::Throttled {
                operation,
                detail: message,
            },
            Self::Internal { message, .. } | Self::Transport { message } => Error::ServiceUnavailable {
                operation,
                detail: message,
            },
            Self::ConcurrentModification { message } => Error::ConcurrentModification {
                operation,
                detail: message,
            },
            // A resource that disappeared between our lookup and our write was changed by
            // someone else meanwhile; a retry of the whole request converges.
            Self::StoreNotFound { message } => Error::Configuration(format!(
                "the Identity Store answers that IDENTITY_STORE_ID names no identity store in this region \
                 (check the id and AWS_REGION): {operation}: {message}"
            )),
            Self::NotFound { message } => Error::ConcurrentModification {
                operation,
                detail: format!("a resource disappeared during the request: {message}"),
            },
            Self::Uniqueness { message } | Self::Rejected { message } => Error::Rejected {
                operation,
                reason: message,
            },
            Self::AccessDenied { message } => Error::AccessDenied {
                operation,
                reason: message,
            },
        }
    }
}

fn hint(seconds: i32) -> Option<Duration> {
    u64::try_from(seconds).ok().filter(|s| *s > 0).map(Duration::from_secs)
}

fn message_of(err: &impl ProvideErrorMetadata) -> String {
    let code = err.code().unwrap_or("UnknownError");
    match err.message() {
        Some(message) => format!("{code}: {}", redact(message)),
        None => code.to_owned(),
    }
}

/// A not-found by what is missing: the store itself is a configuration error, a KMS
/// key the store's encryption needs is a refusal no retry mends, anything else is the
/// resource asked for.
fn not_found(e: &ResourceNotFoundException, message: String) -> Fault {
    if e.resource_type() == Some(&ResourceType::IdentityStore) {
        return Fault::StoreNotFound { message };
    }
    match e.reason() {
        Some(ResourceNotFoundExceptionReason::KmsKeyNotFound) => Fault::AccessDenied { message },
        _ => Fault::NotFound { message },
    }
}

/// Folds an operation's modelled error into a [`Fault`].
pub(super) trait Classify {
    fn classify(&self) -> Fault;
}

/// Classifies a whole `SdkError`: transport failures first, then the modelled error.
pub(super) fn classify_sdk<E>(err: SdkError<E, HttpResponse>) -> Fault
where
    E: Classify + ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let fault = ctx.err().classify();
            match fault {
                // An unmodelled error with a 5xx status is the service being unwell.
                Fault::Rejected { message } if status >= 500 => Fault::Internal {
                    retry_after: None,
                    message,
                },
                other => other,
            }
        }
        SdkError::TimeoutError(_) => Fault::Transport {
            message: "the request timed out".to_owned(),
        },
        SdkError::DispatchFailure(e) => Fault::Transport {
            message: format!("the request could not be sent ({})", dispatch_kind(&e)),
        },
        SdkError::ResponseError(_) => Fault::Transport {
            message: "the response could not be read".to_owned(),
        },
        SdkError::ConstructionFailure(_) => Fault::Rejected {
            message: "the request could not be built".to_owned(),
        },
        other => Fault::Transport {
            message: format!("unexpected SDK failure: {}", redact(&other.to_string())),
        },
    }
}

fn dispatch_kind(e: &aws_smithy_runtime_api::client::result::DispatchFailure) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_io() {
        "connection error"
    } else if e.is_user() {
        "client configuration error"
    } else {
        "other"
    }
}

/// Maps the variants every Identity Store operation error shares; operations that can
/// conflict also map ConflictException by its modelled `reason`. Anything else
/// (ServiceQuotaExceededException, unmodelled codes) is a refusal.
macro_rules! impl_classify {
    (@common $self:ident, $E:ident) => {
        match $self {
            $E::ThrottlingException(e) => Some(Fault::Throttling {
                retry_after: hint(e.retry_after_seconds()),
                message: message_of($self),
            }),
            $E::InternalServerException(e) => Some(Fault::Internal {
                retry_after: hint(e.retry_after_seconds()),
                message: message_of($self),
            }),
            $E::ResourceNotFoundException(e) => Some(not_found(e, message_of($self))),
            $E::AccessDeniedException(_) => Some(Fault::AccessDenied { message: message_of($self) }),
            _ => None,
        }
    };
    ($($module:ident :: $error:ident),+ $(,)?) => {$(
        impl Classify for aws_sdk_identitystore::operation::$module::$error {
            fn classify(&self) -> Fault {
                use aws_sdk_identitystore::operation::$module::$error as E;
                impl_classify!(@common self, E).unwrap_or_else(|| Fault::Rejected { message: message_of(self) })
            }
        }
    )+};
    (conflicts: $($module:ident :: $error:ident),+ $(,)?) => {$(
        impl Classify for aws_sdk_identitystore::operation::$module::$error {
            fn classify(&self) -> Fault {
                use aws_sdk_identitystore::operation::$module::$error as E;
                if let E::ConflictException(e) = self {
                    return match e.reason() {
                        Some(ConflictExceptionReason::ConcurrentModification) => {
                            Fault::ConcurrentModification { message: message_of(self) }
                        }
                        _ => Fault::Uniqueness { message: message_of(self) },
                    };
                }
                impl_classify!(@common self, E).unwrap_or_else(|| Fault::Rejected { message: message_of(self) })
            }
        }
    )+};
}

impl_classify!(conflicts:
    create_user::CreateUserError,
    update_user::UpdateUserError,
    delete_user::DeleteUserError,
    create_group::CreateGroupError,
    update_group::UpdateGroupError,
    delete_group::DeleteGroupError,
    create_group_membership::CreateGroupMembershipError,
    delete_group_membership::DeleteGroupMembershipError,
);

impl_classify!(
    describe_user::DescribeUserError,
    get_user_id::GetUserIdError,
    list_users::ListUsersError,
    describe_group::DescribeGroupError,
    get_group_id::GetGroupIdError,
    get_group_membership_id::GetGroupMembershipIdError,
    list_group_memberships::ListGroupMembershipsError,
    list_group_memberships_for_member::ListGroupMembershipsForMemberError,
    is_member_in_groups::IsMemberInGroupsError,
);
