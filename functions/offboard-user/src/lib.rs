//! `offboard-user`: leaver: removes every group membership, then deletes or keeps the user.

pub mod handler;

pub use handler::handle;
