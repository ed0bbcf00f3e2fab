//! tokenbroker: the service behind a CRM's "Authorize from Zoom App
//! Marketplace" button. See README.md for the tour.

pub mod admin;
pub mod api;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod events;
pub mod flow;
pub mod invalidation;
pub mod openapi;
pub mod ops;
pub mod ratelimit;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod server;
pub mod service;
pub mod shared_load;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod web;
pub mod webhooks;
pub mod zoom;

pub use app::{App, AppState};
pub use server::{launch_with_tcp_listener, router};
