//! Background work: the delivery worker, where it sends to, and how it hears of new jobs; and
//! the retention sweep. Each worker has a `step()` that does one round, for tests.

pub mod delivery;
pub mod listener;
pub mod retention;
pub mod transport;

pub use delivery::{BatchReport, Claimed, DeliveryWorker, Finished};
pub use retention::Retention;
