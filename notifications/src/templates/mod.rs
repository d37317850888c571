//! The operator's pages, as HTML (maud escapes every interpolated value, so what a caller or an
//! SMTP server sent only ever shows as text). Plain HTML forms and links, no scripts.

mod jobs;
mod layout;
mod mailbox;

pub use jobs::{job, job_list, job_not_found};
pub use layout::Pages;
pub use mailbox::mailbox;
