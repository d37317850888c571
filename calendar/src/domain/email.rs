use super::invalid::Invalid;

/// Longest address SMTP allows (RFC 5321 path limit).
const MAX_LEN: usize = 254;

/// A syntactically valid e-mail address, trimmed. Compared case-insensitively through
/// [`EmailAddress::lookup_key`], because contacts' users type addresses in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.len() > MAX_LEN || !email_address::EmailAddress::is_valid(trimmed) {
            return Err(Invalid::new("emails", format!("not a valid e-mail address: {trimmed:?}")));
        }
        Ok(Self(trimmed.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form stored in the replica's lookup column.
    pub fn lookup_key(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_checked() {
        assert_eq!(EmailAddress::parse(" ann@example.org ").unwrap().as_str(), "ann@example.org");
        assert_eq!(EmailAddress::parse("Ann@Example.org").unwrap().lookup_key(), "ann@example.org");
        for bad in [
            "",
            "ann",
            "ann@",
            "@example.org",
            "a b@example.org",
            "a\u{0}b@example.org",
            "\"a\\\u{0}b\"@example.org",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
        assert!(EmailAddress::parse(&format!("{}@example.org", "a".repeat(300))).is_err());
    }
}
