//! `sync-group`: group roster from HR: ensures the group and writes only the difference.

pub mod handler;

pub use handler::handle;
