//! tokenbroker: the service behind a CRM's "Authorize from Zoom App
//! Marketplace" button. See README.md for the tour.

pub mod admin;
pub mod api;
pub mod app;
pub mod cache;
pub mod cli;
pub mod config;
pub mod crypto;
#[cfg(feature = "sandbox")]
pub mod demo;
pub mod domain;
pub mod error;
pub mod flow;
pub mod ops;
pub mod rotate;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
pub mod zoom;

pub use app::{App, AppState};
pub use server::{launch_with_tcp_listener, router};
