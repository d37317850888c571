//! Background work: the delivery worker and where it sends to.

pub mod sender;
pub mod transport;

pub use sender::{BatchReport, Claimed, Finished, Sender};
