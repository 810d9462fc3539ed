//! Errors as the Identity Store sends them over AWS JSON 1.1: an HTTP status, the
//! `__type` (also in `x-amzn-ErrorType`), `Message`, and the exception's own members.

use serde_json::{Map, Value, json};

/// One service error.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub message: String,
    pub members: Map<String, Value>,
    /// Sent without a request id (no `RequestId` member, no `x-amzn-RequestId`
    /// header), as the service's own throttles were captured.
    pub without_request_id: bool,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            message: message.into(),
            members: Map::new(),
            without_request_id: false,
        }
    }

    #[must_use]
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.members.insert(key.to_owned(), value);
        self
    }

    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    /// A request body whose JSON does not fit the operation's shapes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    pub fn unknown_operation(target: &str) -> Self {
        Self::new(404, "UnknownOperationException", format!("Unknown operation: {target}"))
    }

    pub fn not_found(resource_type: &str, resource_id: Option<&str>) -> Self {
        let mut error = Self::new(400, "ResourceNotFoundException", format!("{resource_type} not found."))
            .with("ResourceType", json!(resource_type));
        if let Some(id) = resource_id {
            error = error.with("ResourceId", json!(id));
        }
        error
    }

    pub fn uniqueness(message: impl Into<String>) -> Self {
        Self::new(400, "ConflictException", message).with("Reason", json!("UNIQUENESS_CONSTRAINT_VIOLATION"))
    }

    pub fn concurrent_modification() -> Self {
        Self::new(
            400,
            "ConflictException",
            "The resource was modified concurrently; retry the request.",
        )
        .with("Reason", json!("CONCURRENT_MODIFICATION"))
    }

    pub fn throttling(retry_after: Option<i32>) -> Self {
        let error = Self::new(400, "ThrottlingException", "Rate exceeded");
        match retry_after {
            Some(seconds) => error.with("RetryAfterSeconds", json!(seconds)),
            None => error,
        }
    }

    /// A throttle exactly as one was captured from the service: HTTP 400,
    /// `ThrottlingException`, `Message` "Rate exceeded", and nothing else: no
    /// `RetryAfterSeconds`, no `RequestId` (member or header), no `Retry-After`.
    pub fn captured_throttling() -> Self {
        let mut error = Self::new(400, "ThrottlingException", "Rate exceeded");
        error.without_request_id = true;
        error
    }

    pub fn internal(retry_after: Option<i32>) -> Self {
        let error = Self::new(
            500,
            "InternalServerException",
            "The request processing has failed because of an unknown error.",
        );
        match retry_after {
            Some(seconds) => error.with("RetryAfterSeconds", json!(seconds)),
            None => error,
        }
    }

    /// The body, with the request id the service adds to every exception (unless
    /// this error goes without one).
    pub fn body(&self, request_id: &str) -> Value {
        let mut body = self.members.clone();
        body.insert("__type".into(), json!(self.kind));
        body.insert("Message".into(), json!(self.message));
        if !self.without_request_id {
            body.insert("RequestId".into(), json!(request_id));
        }
        Value::Object(body)
    }

    /// `RetryAfterSeconds`, when the error carries one.
    pub fn retry_after(&self) -> Option<i64> {
        self.members.get("RetryAfterSeconds").and_then(Value::as_i64)
    }
}
