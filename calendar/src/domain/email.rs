use super::invalid::Invalid;

/// Longest address SMTP allows (RFC 5321 path limit).
const MAX_LEN: usize = 254;

/// A syntactically valid e-mail address, trimmed, in Unicode NFC and free of invisible
/// characters (`service_kit::email`, the rule contacts applies too). Compared case-insensitively through
/// [`EmailAddress::lookup_key`], because contacts' users type addresses in any case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        let address = service_kit::email::normalize(trimmed)
            .map_err(|refused| Invalid::new("emails", format!("{trimmed:?} {refused}")))?;
        Self::from_normalized(address)
            .map_err(|_| Invalid::new("emails", format!("not a valid e-mail address: {trimmed:?}")))
    }

    /// An address `service_kit::email::normalize` has already made, checked for length and
    /// syntax.
    pub fn from_normalized(address: String) -> Result<Self, Invalid> {
        if address.is_empty() || address.len() > MAX_LEN || !email_address::EmailAddress::is_valid(&address) {
            return Err(Invalid::new("emails", format!("not a valid e-mail address: {address:?}")));
        }
        Ok(Self(address))
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

    #[test]
    fn addresses_are_stored_composed_and_invisible_characters_refused() {
        assert_eq!(EmailAddress::parse("zoe\u{308}@example.org").unwrap().as_str(), "zo\u{eb}@example.org");
        let refused = EmailAddress::parse("ann\u{200B}@example.org").unwrap_err();
        assert!(refused.message.contains("U+200B"), "{}", refused.message);
    }
}
