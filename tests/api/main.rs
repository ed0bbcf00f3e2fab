//! Integration tests over real sockets against the sandbox Zoom. The same
//! suite runs on SQLite (default) and PostgreSQL (`TEST_DATABASE_URL`).

mod auth;
mod browser;
mod callback_failures;
mod cli;
mod connect_flow;
mod console;
mod console_paging;
mod credentials;
mod helpers;
mod isolation;
mod ops;
mod paging;
mod paging_plans;
mod process;
mod refresh;
mod refresh_failures;
mod replicas;
mod sign_in;
mod store;
mod tenant_integrity;
mod webhooks;
