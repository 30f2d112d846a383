//! Tests judged by other implementations: Debian's NUT (upsc, upscmd,
//! upsrw, upsmon, upsd with dummy-ups; packages nut-client and
//! nut-server) and Python's clients (PyNUTClient, aionut). Without them a
//! test says so and passes locally; in CI (CI=true) it fails.

#[path = "../common/mod.rs"]
mod common;

mod monitor_primary;
mod monitor_remote;
mod nut_clients;
mod py_clients;
mod upsmon;
