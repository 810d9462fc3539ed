//! `onboard-user`: joiner and mover: creates or converges a user and ensures its group memberships.

pub mod handler;

pub use handler::handle;
