//! Events to the CRM (issue 12), per Standard Webhooks v1.
//!
//! The store writes each event to the outbox in the transaction of the
//! change it reports (`store::outbox`); `worker.rs` delivers them at least
//! once; `sign.rs` signs each attempt.

pub mod sign;
pub mod worker;

pub use worker::{spawn_delivery, Delivery};
