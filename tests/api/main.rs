//! Integration tests over real sockets against the sandbox Zoom. The same
//! suite runs on SQLite (default) and PostgreSQL (`TEST_DATABASE_URL`).

mod auth;
mod browser;
mod browser_oauth_app;
mod callback_failures;
mod cli;
mod connect_flow;
mod console;
mod console_paging;
mod credentials;
mod db_faults;
mod db_outage;
mod demo;
mod helpers;
mod isolation;
mod leases;
mod oauth_app;
mod openapi;
mod ops;
mod paging;
mod paging_plans;
mod pg_cluster;
mod process;
mod refresh;
mod refresh_durability;
mod refresh_failures;
mod refresh_on_use;
mod replica_faults;
mod replicas;
mod sign_in;
mod store;
mod sweep_plan;
mod tenant_integrity;
mod validation;
mod webhooks;
