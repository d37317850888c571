//! SQL. Handlers and the worker call these functions; no SQL lives elsewhere.

pub mod jobs;
