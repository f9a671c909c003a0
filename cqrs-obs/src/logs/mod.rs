//! Logs: console output that carries the message context.

pub mod console;
