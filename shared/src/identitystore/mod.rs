//! The Identity Store adapter: the only module that names `aws_sdk_identitystore`.
//!
//! [`IdentityStore`] is every call the jobs make, in domain types: each call is paced
//! (`pace`), retried within the deadline (`retry`), and its SDK error classified at the
//! edge (`fault`); a create that meets a uniqueness conflict resolves to the existing
//! resource, a delete of something already gone succeeds, a lookup that finds nothing
//! is `None`. `user` converts the contract's user to and from the SDK's shapes, and
//! `http` is the HTTPS client with its fixed trust store.

use aws_config::retry::RetryConfig;

mod fault;
mod http;
mod pace;
mod retry;
mod store;
mod user;

/// The SDK client the adapter wraps, under the name the composition root uses.
pub(crate) use aws_sdk_identitystore::Client as IdentityStoreClient;
pub use http::https_client;
pub use retry::RetryPolicy;
pub use store::{Ensured, IdentityStore};
pub(crate) use store::{Membership, PAGE_SIZE};

/// Builds the Identity Store client from the SDK's standard configuration (region,
/// credentials chain, `AWS_ENDPOINT_URL_IDENTITYSTORE`), with the SDK's own retries
/// off: [`IdentityStore`] does them, honouring `RetryAfterSeconds` and the deadline.
pub(crate) fn client(shared: &aws_config::SdkConfig) -> aws_sdk_identitystore::Client {
    let config = aws_sdk_identitystore::config::Builder::from(shared)
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_identitystore::Client::from_conf(config)
}
