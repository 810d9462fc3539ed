//! The Lambda error object each domain error becomes: the contract's `errorType`,
//! never a Rust type name.

use lambda_runtime::Diagnostic;
use serde_json::json;
use turnstile::Error;

#[test]
fn every_domain_error_serializes_with_its_contract_error_type() {
    let cases = [
        (
            Error::InvalidEvent("userName: must be 1 to 128 characters".into()),
            "InvalidEvent",
            false,
        ),
        (
            Error::GroupNotFound {
                missing: 1,
                names: "Platform".into(),
            },
            "GroupNotFound",
            false,
        ),
        (
            Error::MassRemovalBlocked { planned: 60, limit: 50 },
            "MassRemovalBlocked",
            false,
        ),
        (
            Error::Rejected {
                operation: "CreateUser",
                reason: "ValidationException: …".into(),
            },
            "Rejected",
            false,
        ),
        (
            Error::AccessDenied {
                operation: "CreateUser",
                reason: "AccessDeniedException".into(),
            },
            "AccessDenied",
            false,
        ),
        (
            Error::Throttled {
                operation: "GetUserId",
                detail: "ThrottlingException".into(),
            },
            "Throttled",
            true,
        ),
        (
            Error::ConcurrentModification {
                operation: "DeleteGroupMembership",
                detail: "ConflictException".into(),
            },
            "ConcurrentModification",
            true,
        ),
        (
            Error::ServiceUnavailable {
                operation: "ListUsers",
                detail: "timed out".into(),
            },
            "ServiceUnavailable",
            true,
        ),
        (
            Error::Configuration("IDENTITY_STORE_ID is not set".into()),
            "Configuration",
            false,
        ),
    ];
    for (error, error_type, retryable) in cases {
        assert_eq!(error.is_retryable(), retryable, "{error_type}");
        let message = error.to_string();
        let diagnostic = Diagnostic::from(error);
        assert_eq!(
            serde_json::to_value(&diagnostic).unwrap(),
            json!({ "errorType": error_type, "errorMessage": message })
        );
    }
}

#[test]
fn the_mass_removal_message_gives_the_numbers() {
    let diagnostic = Diagnostic::from(Error::MassRemovalBlocked { planned: 60, limit: 50 });
    assert_eq!(
        serde_json::to_value(&diagnostic).unwrap(),
        json!({
            "errorType": "MassRemovalBlocked",
            "errorMessage": "the plan removes 60 member(s), more than maxRemovals (50); nothing was written"
        })
    );
}
