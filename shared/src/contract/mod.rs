//! What callers see: the requests the functions accept, the results they return, the
//! errors they fail with, and the redaction that keeps personal data out of messages.

pub(crate) mod batch;
pub(crate) mod error;
pub(crate) mod event;
pub(crate) mod redact;
pub(crate) mod request;
pub(crate) mod result;
pub(crate) mod user;
