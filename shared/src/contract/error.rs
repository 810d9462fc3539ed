//! The domain error: one variant per `errorType` of the public contract.
//!
//! Every failure a function can return ends up here, so Step Functions `Retry`/`Catch`
//! rules and alarms only ever see the contract's stable names, never a Rust type name.

use lambda_runtime::Diagnostic;

/// A failed request, named as the contract names it.
///
/// Messages never carry personal values (userNames, emails, phone numbers, addresses,
/// people's names): only field paths, counts, group names, operation names and the
/// service's own reason, redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The request failed validation; nothing was written.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// `CREATE_MISSING_GROUPS=false` and a requested group does not exist.
    #[error("{missing} requested group(s) do not exist and CREATE_MISSING_GROUPS is false: {names}")]
    GroupNotFound { missing: usize, names: String },
    /// sync-group's plan would remove more members than allowed.
    #[error("the plan removes {planned} member(s), more than maxRemovals ({limit}); nothing was written")]
    MassRemovalBlocked { planned: usize, limit: usize },
    /// The Identity Store refused the request (validation, quota).
    #[error("{operation} was rejected by the Identity Store: {reason}")]
    Rejected { operation: &'static str, reason: String },
    /// The caller's role may not make this call.
    #[error("{operation} was denied by the Identity Store: {reason}")]
    AccessDenied { operation: &'static str, reason: String },
    /// Throttled beyond the function's own retries or its remaining time.
    #[error("{operation} is still throttled: {detail}")]
    Throttled { operation: &'static str, detail: String },
    /// A CONCURRENT_MODIFICATION conflict (or a resource that vanished mid-run) outlived
    /// the retries.
    #[error("{operation} met a concurrent modification: {detail}")]
    ConcurrentModification { operation: &'static str, detail: String },
    /// Server errors, timeouts and connection failures that outlived the retries.
    #[error("{operation} failed: the service is unavailable: {detail}")]
    ServiceUnavailable { operation: &'static str, detail: String },
    /// The function's environment is wrong.
    #[error("configuration error: {0}")]
    Configuration(String),
}

/// The contract's `errorType` names, without the details: what Step Functions, alarms
/// and the infrastructure tests match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ErrorType {
    InvalidEvent,
    GroupNotFound,
    MassRemovalBlocked,
    Rejected,
    AccessDenied,
    Throttled,
    ConcurrentModification,
    ServiceUnavailable,
    Configuration,
}

impl ErrorType {
    /// Every errorType, in the contract's order.
    pub const ALL: [Self; 9] = [
        Self::InvalidEvent,
        Self::GroupNotFound,
        Self::MassRemovalBlocked,
        Self::Rejected,
        Self::AccessDenied,
        Self::Throttled,
        Self::ConcurrentModification,
        Self::ServiceUnavailable,
        Self::Configuration,
    ];

    /// The name, as the Lambda error object carries it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::InvalidEvent => "InvalidEvent",
            Self::GroupNotFound => "GroupNotFound",
            Self::MassRemovalBlocked => "MassRemovalBlocked",
            Self::Rejected => "Rejected",
            Self::AccessDenied => "AccessDenied",
            Self::Throttled => "Throttled",
            Self::ConcurrentModification => "ConcurrentModification",
            Self::ServiceUnavailable => "ServiceUnavailable",
            Self::Configuration => "Configuration",
        }
    }

    /// Whether the contract tells callers to retry it.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled | Self::ConcurrentModification | Self::ServiceUnavailable
        )
    }
}

impl Error {
    /// The contract's errorType of this error.
    pub const fn kind(&self) -> ErrorType {
        match self {
            Self::InvalidEvent(_) => ErrorType::InvalidEvent,
            Self::GroupNotFound { .. } => ErrorType::GroupNotFound,
            Self::MassRemovalBlocked { .. } => ErrorType::MassRemovalBlocked,
            Self::Rejected { .. } => ErrorType::Rejected,
            Self::AccessDenied { .. } => ErrorType::AccessDenied,
            Self::Throttled { .. } => ErrorType::Throttled,
            Self::ConcurrentModification { .. } => ErrorType::ConcurrentModification,
            Self::ServiceUnavailable { .. } => ErrorType::ServiceUnavailable,
            Self::Configuration(_) => ErrorType::Configuration,
        }
    }

    /// The contract's `errorType` for this error.
    pub const fn error_type(&self) -> &'static str {
        self.kind().name()
    }

    /// Whether the contract tells callers to retry this error.
    pub const fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// A resource this request found (or created) a moment ago is gone: someone else
    /// changed the store meanwhile, and a retry of the whole request converges.
    pub(crate) fn vanished(operation: &'static str, detail: &str) -> Self {
        Self::ConcurrentModification {
            operation,
            detail: detail.to_owned(),
        }
    }
}

impl From<Error> for Diagnostic {
    fn from(error: Error) -> Self {
        Self {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}
