//! A contact and the validated input that makes or changes one: names, email addresses, ids.

use std::fmt;

use serde::{Deserialize, Serialize};
use service_kit::email;
use uuid::Uuid;

use super::field_error::FieldError;

/// Longest first or last name, in characters (Unicode scalar values, as JSON Schema counts).
pub const NAME_MAX_CHARS: usize = 100;
/// Longest email address, in characters (the SMTP path limit).
pub const EMAIL_MAX_CHARS: usize = 254;

/// A contact's id: a UUIDv7, so ids sort by creation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactId(Uuid);

impl ContactId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses an id in its one canonical spelling (lower case, hyphenated); `None` for other
    /// spellings and anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        service_kit::id::parse_canonical(raw).map(Self)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// Trims white space, including the byte-order mark JSON Schema's `\s` counts as space.
fn trim(raw: &str) -> &str {
    raw.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// Why a field holding `c` is refused: a control character, or a noncharacter XML cannot carry.
fn refused(c: char) -> String {
    if c.is_control() {
        "must not contain control characters".to_owned()
    } else {
        format!(
            "must not contain {} (a noncharacter the feed's XML cannot carry)",
            service_kit::text::describe(c)
        )
    }
}

/// A first or last name: trimmed, non-empty, at most [`NAME_MAX_CHARS`], no control characters
/// and no noncharacters (`service_kit::text`). Any other Unicode is welcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        // The limit applies to the input as sent, so a value within it is never refused
        // for being too long after trimming, and one over it never accepted.
        if raw.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::new(field, format!("must be at most {NAME_MAX_CHARS} characters")));
        }
        let trimmed = trim(raw);
        if trimmed.is_empty() {
            return Err(FieldError::new(field, "must not be empty"));
        }
        if let Some(c) = service_kit::text::first_unsafe_char(trimmed, false) {
            return Err(FieldError::new(field, refused(c)));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A well-formed email address (`local@domain.tld`, no display name, no IP literal), trimmed,
/// in Unicode NFC, case preserved; no invisible characters (`service_kit::email`). Uniqueness
/// ignores case and compatibility forms: see [`EmailAddress::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        const FIELD: &str = "email";
        if raw.chars().count() > EMAIL_MAX_CHARS {
            return Err(FieldError::new(FIELD, format!("must be at most {EMAIL_MAX_CHARS} characters")));
        }
        let trimmed = trim(raw);
        if trimmed.is_empty() {
            return Err(FieldError::new(FIELD, "must not be empty"));
        }
        let address = match email::normalize(trimmed) {
            Ok(address) => address,
            Err(refused @ (email::Refused::Noncharacter(_) | email::Refused::Invisible(_))) => {
                return Err(FieldError::new(FIELD, refused.to_string()));
            }
            Err(email::Refused::SpaceOrControl(_)) => return Err(not_an_address()),
        };
        let options = email_address::Options::default()
            .without_display_text()
            .without_domain_literal()
            .with_required_tld();
        match email_address::EmailAddress::parse_with_options(&address, options) {
            Ok(_) => Ok(Self(address)),
            Err(_) => Err(not_an_address()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key: `Jane@Example.org`, `jane@example.org` and full-width
    /// `ｊａｎｅ@example.org` are one person.
    pub fn key(&self) -> String {
        email::lookalike_key(&self.0)
    }
}

fn not_an_address() -> FieldError {
    FieldError::new("email", "must be an email address like jane@example.org")
}

/// A contact as the read model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: ContactId,
    pub firstname: String,
    pub lastname: String,
    pub email: String,
}

impl Contact {
    /// Listing order: last name, then first name, ignoring case and accents.
    pub fn sort_key(&self) -> String {
        super::fold(&format!("{} {}", self.lastname, self.firstname))
    }

    /// What a search matches against.
    pub fn search_text(&self) -> String {
        super::fold(&format!("{} {} {}", self.firstname, self.lastname, self.email))
    }

    /// The uniqueness key of the stored address (see [`EmailAddress::key`]).
    pub fn email_key(&self) -> String {
        email::lookalike_key(&self.email)
    }
}

/// A validated new contact.
#[derive(Debug, Clone)]
pub struct NewContact {
    pub firstname: PersonName,
    pub lastname: PersonName,
    pub email: EmailAddress,
}

impl NewContact {
    /// Validates all three fields; every refused field is reported.
    pub fn parse(firstname: &str, lastname: &str, email: &str) -> Result<Self, Vec<FieldError>> {
        let firstname = PersonName::parse("firstname", firstname);
        let lastname = PersonName::parse("lastname", lastname);
        let email = EmailAddress::parse(email);
        match (firstname, lastname, email) {
            (Ok(firstname), Ok(lastname), Ok(email)) => Ok(Self { firstname, lastname, email }),
            (f, l, e) => Err([f.err(), l.err(), e.err()].into_iter().flatten().collect()),
        }
    }

    pub fn into_contact(self, id: ContactId) -> Contact {
        Contact { id, firstname: self.firstname.0, lastname: self.lastname.0, email: self.email.0 }
    }
}

/// A validated partial update: only the given fields change.
#[derive(Debug, Clone, Default)]
pub struct ContactChanges {
    pub firstname: Option<PersonName>,
    pub lastname: Option<PersonName>,
    pub email: Option<EmailAddress>,
}

impl ContactChanges {
    pub fn parse(
        firstname: Option<&str>,
        lastname: Option<&str>,
        email: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let firstname = firstname.map(|v| PersonName::parse("firstname", v)).transpose();
        let lastname = lastname.map(|v| PersonName::parse("lastname", v)).transpose();
        let email = email.map(EmailAddress::parse).transpose();
        match (firstname, lastname, email) {
            (Ok(firstname), Ok(lastname), Ok(email)) => Ok(Self { firstname, lastname, email }),
            (f, l, e) => Err([f.err(), l.err(), e.err()].into_iter().flatten().collect()),
        }
    }

    /// The fields that really differ from `current`.
    pub fn diff(&self, current: &Contact) -> Updates {
        let changed =
            |new: &Option<String>, old: &str| new.as_deref().filter(|n| *n != old).map(str::to_owned);
        Updates {
            firstname: changed(&self.firstname.as_ref().map(|n| n.0.clone()), &current.firstname),
            lastname: changed(&self.lastname.as_ref().map(|n| n.0.clone()), &current.lastname),
            email: changed(&self.email.as_ref().map(|e| e.0.clone()), &current.email),
        }
    }
}

/// Changed fields of a `contact-updated` event (absent fields did not change).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Updates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firstname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lastname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl Updates {
    pub fn is_empty(&self) -> bool {
        self.firstname.is_none() && self.lastname.is_none() && self.email.is_none()
    }

    /// `contact` with these updates applied.
    pub fn apply_to(&self, contact: &mut Contact) {
        if let Some(v) = &self.firstname {
            contact.firstname.clone_from(v);
        }
        if let Some(v) = &self.lastname {
            contact.lastname.clone_from(v);
        }
        if let Some(v) = &self.email {
            contact.email.clone_from(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_any_script_is_fine() {
        assert_eq!(PersonName::parse("f", "  Zoë  ").unwrap().as_str(), "Zoë");
        assert_eq!(PersonName::parse("f", "山田").unwrap().as_str(), "山田");
        assert_eq!(
            PersonName::parse("f", "<script>alert(1)</script>").unwrap().as_str(),
            "<script>alert(1)</script>"
        );
    }

    #[test]
    fn blank_long_or_control_names_are_refused() {
        assert!(PersonName::parse("f", "   ").is_err());
        assert!(PersonName::parse("f", "").is_err());
        assert!(PersonName::parse("f", &"x".repeat(NAME_MAX_CHARS + 1)).is_err());
        assert!(PersonName::parse("f", &"é".repeat(NAME_MAX_CHARS)).is_ok(), "the limit counts characters");
        assert!(PersonName::parse("f", "a\u{0}b").is_err());
        assert!(PersonName::parse("f", "a\u{85}b").is_err(), "C1 controls too");
    }

    #[test]
    fn characters_xml_cannot_carry_are_refused_in_every_field() {
        for c in ['\u{FFFE}', '\u{FFFF}', '\u{FDD0}', '\u{1FFFF}', '\u{10FFFE}'] {
            let err = PersonName::parse("lastname", &format!("Do{c}e")).unwrap_err();
            assert_eq!(err.field, "lastname");
            assert!(err.message.contains(&service_kit::text::describe(c)), "{}", err.message);
            let err = EmailAddress::parse(&format!("ja{c}ne@example.org")).unwrap_err();
            assert_eq!(err.field, "email");
            assert!(err.message.contains(&service_kit::text::describe(c)), "{}", err.message);
        }
    }

    #[test]
    fn emails_must_be_plain_addresses_with_a_domain() {
        assert!(EmailAddress::parse("jane@example.org").is_ok());
        assert_eq!(EmailAddress::parse(" Jane@Example.org ").unwrap().key(), "jane@example.org");
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.org",
            "jane@localhost",
            "Jane <jane@example.org>",
            "a b@example.org",
            "jane@[127.0.0.1]",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn look_alike_addresses_are_one_address_or_refused() {
        let composed = EmailAddress::parse("zo\u{eb}@example.org").unwrap();
        let decomposed = EmailAddress::parse("zoe\u{308}@example.org").unwrap();
        assert_eq!(decomposed.as_str(), composed.as_str(), "stored in NFC");
        let full_width = EmailAddress::parse("\u{FF4A}\u{FF41}\u{FF4E}\u{FF45}@example.org").unwrap();
        assert_eq!(full_width.key(), EmailAddress::parse("Jane@example.org").unwrap().key());
        for invisible in ["jane\u{200B}@example.org", "ja\u{00AD}ne@example.org", "\u{202E}jane@example.org"]
        {
            let err = EmailAddress::parse(invisible).unwrap_err();
            assert!(err.message.contains("invisible"), "{invisible:?}: {}", err.message);
        }
    }

    #[test]
    fn a_diff_holds_only_the_fields_that_change() {
        let current = Contact {
            id: ContactId::generate(),
            firstname: "Jane".into(),
            lastname: "Doe".into(),
            email: "jane@example.org".into(),
        };
        let changes = ContactChanges::parse(Some("Jane"), Some("Roe"), None).unwrap();
        assert_eq!(changes.diff(&current), Updates { lastname: Some("Roe".into()), ..Updates::default() });
        assert!(ContactChanges::default().diff(&current).is_empty());
    }
}
