//! The Identity Store adapter: the only module that names `aws_sdk_identitystore`.
//!
//! [`IdentityStore`] is every call the jobs make, in domain types: each call is paced
//! (`pace`), retried within the deadline (`retry`), and its SDK error classified at the
//! edge (`fault`); a create that meets a uniqueness conflict resolves to the existing
//! resource, a delete of something already gone succeeds, a lookup that finds nothing
//! is `None`. `user` converts the contract's user to and from the SDK's shapes, and
//! `http` is the HTTPS client with its fixed trust store.

use aws_config::retry::RetryConfig;

use crate::Error;

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

/// The client for a cold start: the SDK's standard configuration from the environment,
/// over [`https_client`].
pub(crate) async fn client_from_env(ca_bundle: Option<&str>) -> Result<aws_sdk_identitystore::Client, Error> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client(ca_bundle)?);
    // The default credentials chain asks the environment first, so with a key pair
    // there (always, under Lambda) its other providers are never asked; building
    // them costs a third of a millisecond of every cold start.
    let key_pair = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
        .iter()
        .all(|key| std::env::var(key).is_ok_and(|v| !v.trim().is_empty()));
    if key_pair {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        return Err(Error::Configuration(
            "no AWS region is configured (set AWS_REGION)".into(),
        ));
    }
    Ok(client(&shared))
}
