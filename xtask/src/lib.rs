#![allow(clippy::print_stdout)] // a developer tool: printing to the terminal is its job

//! Developer tasks that run the real binaries together (`cargo xtask <command>`), and the process
//! supervision they share with the end-to-end tests.

pub mod processes;
pub mod soak;
pub mod system;
