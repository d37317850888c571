//! Resource ids in URLs: one spelling per resource.
//!
//! The `uuid` crate reads many spellings of one UUID (upper case, no hyphens, braces,
//! `urn:uuid:`); accepting them all would give every resource many URLs, which caches, logs and
//! access rules would each treat as different. The services publish the lower-case hyphenated
//! form and accept only that.

use uuid::Uuid;

/// Parses `raw` when it is a UUID in its canonical spelling (`67e55044-10b1-426f-9247-bb680e5fe0c8`);
/// `None` for every other spelling and for anything else.
pub fn parse_canonical(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut buffer) == raw).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_lower_case_hyphenated_spelling_is_an_id() {
        let canonical = "67e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(parse_canonical(canonical).map(|id| id.to_string()).as_deref(), Some(canonical));
        for other in [
            "67E55044-10B1-426F-9247-BB680E5FE0C8",
            "67e5504410b1426f9247bb680e5fe0c8",
            "urn:uuid:67e55044-10b1-426f-9247-bb680e5fe0c8",
            "{67e55044-10b1-426f-9247-bb680e5fe0c8}",
            " 67e55044-10b1-426f-9247-bb680e5fe0c8",
            "not-an-id",
        ] {
            assert_eq!(parse_canonical(other), None, "{other}");
        }
    }
}
