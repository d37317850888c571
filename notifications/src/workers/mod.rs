//! Background work: the delivery worker, where it sends to, and how it hears of new jobs; and
//! the retention sweep.

pub mod listener;
pub mod retention;
pub mod sender;
pub mod transport;

pub use retention::Retention;
pub use sender::{BatchReport, Claimed, Finished, Sender};
