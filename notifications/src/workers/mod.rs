//! Background work: the delivery worker, where it sends to, and how it hears of new jobs.

pub mod listener;
pub mod sender;
pub mod transport;

pub use sender::{BatchReport, Claimed, Finished, Sender};
