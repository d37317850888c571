//! The body of `POST /notifications`, parsed once into a [`NewNotification`] whose parts are
//! valid to put into an e-mail: real addresses, a subject that cannot smuggle in headers, a
//! bounded message.

use std::collections::HashSet;

use lettre::Address;
use lettre::message::{Mailbox, Message};
use serde::Deserialize;
use utoipa::ToSchema;

use super::attachment::{Part, PartRequest, parse_parts};
use super::invalid::InvalidField;

/// Most recipients one job may have: notifications is no open relay.
pub const MAX_RECIPIENTS: usize = 50;
/// Longest subject, in characters: room for a prefix such as calendar's "Invitation: " before a
/// 200-character event title.
pub const MAX_SUBJECT_CHARS: usize = 255;
/// Longest message, in characters.
pub const MAX_MESSAGE_CHARS: usize = 20_000;
/// Longest address (RFC 5321's path limit less the angle brackets).
const MAX_ADDRESS_CHARS: usize = 254;
/// Longest `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// The subject used when the request has none (the original calendar sent only email and
/// message).
pub const DEFAULT_SUBJECT: &str = "Notification";

/// The body of `POST /notifications` as it arrives: one recipient in `email`, or several in
/// `recipients`. [`NewNotification::parse`] checks the rest. The OpenAPI document describes it
/// with [`NotificationRequestSchema`], which states the same rules as JSON Schema.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    pub email: Option<String>,
    pub recipients: Option<Vec<String>>,
    pub subject: Option<String>,
    pub message: String,
    pub attachments: Option<Vec<PartRequest>>,
}

/// A notification to send (for the OpenAPI document; keep in step with
/// [`NewNotification::parse`]): exactly one of `email` or `recipients`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = NotificationRequest)]
pub enum NotificationRequestSchema {
    OneRecipient(OneRecipient),
    SeveralRecipients(SeveralRecipients),
}

/// A notification to one address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@example.org", "subject": "Invitation", "message": "You are invited."}))]
pub struct OneRecipient {
    /// The recipient's address.
    #[schema(format = "email", max_length = 254)]
    pub email: String,
    /// The subject line (default "Notification"): at most 255 characters, not blank, no line
    /// breaks or other control characters.
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub subject: Option<String>,
    /// The plain-text message: at most 20,000 characters, not blank; line breaks (`\n` or
    /// `\r\n`) and tabs are the only control characters allowed.
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    )]
    pub message: String,
    /// Alternative renderings of the message (parts without a filename, such as a
    /// `text/calendar; method=REQUEST` invitation) and attachments (parts with one): at most 5,
    /// each at most 128 KiB, together at most 256 KiB.
    #[schema(max_items = 5)]
    pub attachments: Option<Vec<PartRequest>>,
}

/// A notification to several addresses, all named in one message's `To` header.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"recipients": ["ada@example.org", "bob@example.org"], "message": "Standup at 10."}))]
pub struct SeveralRecipients {
    /// 1 to 50 addresses; repeats are sent once.
    #[schema(min_items = 1, max_items = 50)]
    pub recipients: Vec<EmailAddress>,
    /// As in [`OneRecipient`].
    #[schema(
        max_length = 255,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub subject: Option<String>,
    /// As in [`OneRecipient`].
    #[schema(
        min_length = 1,
        max_length = 20000,
        pattern = r"^[^\x00-\x08\x0B-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x08\x0B-\x1F\x7F-\x9F]*$"
    )]
    pub message: String,
    /// As in [`OneRecipient`].
    #[schema(max_items = 5)]
    pub attachments: Option<Vec<PartRequest>>,
}

/// An e-mail address (for the OpenAPI document).
#[derive(Debug, Deserialize)]
pub struct EmailAddress(pub String);

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
            .max_length(Some(MAX_ADDRESS_CHARS))
            .into()
    }
}

impl ToSchema for EmailAddress {}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> InvalidField {
    InvalidField::new(field, message)
}

/// Which recipients this service takes: what its SMTP server can be given, and where mail may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressRules {
    /// `SMTP_UTF8=true`: the SMTP server supports SMTPUTF8 (RFC 6531), so a local part may hold
    /// non-ASCII letters (`zoë@example.org`). Off by default: such a job would fail at any server
    /// without it, so it is refused up front. Domains are always fine: they go out as IDNA ASCII.
    pub smtputf8: bool,
    /// `RECIPIENT_DOMAINS`: when set, the only domains mail is sent to (lower case, ASCII; exact
    /// matches, so a subdomain must be listed itself).
    pub domains: Option<Vec<String>>,
}

/// A validated notification. The fields are private: the only way in is
/// [`NewNotification::parse`] (or [`NewNotification::from_stored`] for rows written by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    recipients: Vec<String>,
    subject: String,
    body: String,
    parts: Vec<Part>,
}

impl NewNotification {
    pub fn parse(request: NotificationRequest, rules: &AddressRules) -> Result<Self, InvalidField> {
        let recipients = match (request.email, request.recipients) {
            (Some(_), Some(_)) => {
                return Err(invalid("recipients", "give either email or recipients, not both"));
            }
            (None, None) => return Err(invalid("email", "a recipient address is required")),
            (Some(email), None) => vec![parse_address("email", &email, rules)?],
            (None, Some(list)) => {
                if list.is_empty() || list.len() > MAX_RECIPIENTS {
                    return Err(invalid("recipients", format!("give 1 to {MAX_RECIPIENTS} addresses")));
                }
                let mut seen = HashSet::new();
                let mut parsed = Vec::with_capacity(list.len());
                for (i, raw) in list.iter().enumerate() {
                    let address = parse_address(&format!("recipients[{i}]"), raw, rules)?;
                    // An address given twice (in any case or form) gets the message once.
                    if seen.insert(service_kit::email::lookalike_key(&address)) {
                        parsed.push(address);
                    }
                }
                parsed
            }
        };
        let subject = match request.subject {
            None => DEFAULT_SUBJECT.to_string(),
            Some(subject) => parse_subject(subject)?,
        };
        let body = parse_body(request.message)?;
        let parts = parse_parts(request.attachments.unwrap_or_default())?;
        Ok(Self { recipients, subject, body, parts })
    }

    /// Rebuilds a notification from a stored job (written by [`Self::parse`], so valid).
    pub fn from_stored(recipients: Vec<String>, subject: String, body: String, parts: Vec<Part>) -> Self {
        Self { recipients, subject, body, parts }
    }

    pub fn recipients(&self) -> &[String] {
        &self.recipients
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn body(&self) -> &str {
        &self.body
    }

    /// The alternative renderings and attachments, in the order given.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }
}

/// A recipient as the mail will carry it: NFC, no invisible characters, the domain in IDNA
/// ASCII, a local part the SMTP server can take, a domain `RECIPIENT_DOMAINS` allows.
fn parse_address(field: &str, raw: &str, rules: &AddressRules) -> Result<String, InvalidField> {
    if raw.chars().count() > MAX_ADDRESS_CHARS {
        return Err(invalid(field, format!("an address has at most {MAX_ADDRESS_CHARS} characters")));
    }
    // CR, LF and every other control character: they could end the header the address goes into.
    let normalized = service_kit::email::normalize(raw).map_err(|refused| match refused {
        service_kit::email::Refused::SpaceOrControl(_) => {
            invalid(field, "an address must not contain spaces or control characters")
        }
        other => invalid(field, format!("an address {other}")),
    })?;
    let not_an_address = || invalid(field, "not a valid e-mail address (expected name@example.org)");
    let ascii_domain = service_kit::email::with_ascii_domain(&normalized).ok_or_else(not_an_address)?;
    let address = ascii_domain.parse::<Address>().map_err(|_| not_an_address())?;
    if !rules.smtputf8 && !address.user().is_ascii() {
        return Err(invalid(
            field,
            "this server sends only to ASCII local parts (the part before @); non-ASCII needs an SMTP server with SMTPUTF8 and SMTP_UTF8=true",
        ));
    }
    if let Some(domains) = &rules.domains {
        let domain = address.domain().to_ascii_lowercase();
        if !domains.contains(&domain) {
            return Err(invalid(field, format!("mail to {domain} is not allowed here (RECIPIENT_DOMAINS)")));
        }
    }
    if !fits_a_to_header(&address) {
        return Err(invalid(field, "this address cannot be put into an e-mail's To header"));
    }
    Ok(address.to_string())
}

/// Whether a message to `address` can be built. A quoted local part may hold characters
/// (`<`, `,`, `@`, `(`...) that `lettre` accepts in an [`Address`] but cannot read back from
/// the `To` header it writes; such a job could never be sent, so it is refused here instead of
/// failing in the worker.
fn fits_a_to_header(address: &Address) -> bool {
    let mailbox = Mailbox::new(None, address.clone());
    Message::builder().from(mailbox.clone()).to(mailbox).body(String::new()).is_ok()
}

fn parse_subject(subject: String) -> Result<String, InvalidField> {
    if subject.chars().any(char::is_control) {
        return Err(invalid(
            "subject",
            "the subject must not contain line breaks or other control characters",
        ));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(invalid("subject", format!("the subject has at most {MAX_SUBJECT_CHARS} characters")));
    }
    if subject.trim().is_empty() {
        return Err(invalid("subject", "the subject must not be blank (leave it out for the default)"));
    }
    Ok(subject)
}

/// Line breaks may be `\n` or `\r\n` (stored as `\n`); tabs are fine; other control characters
/// are refused.
fn parse_body(message: String) -> Result<String, InvalidField> {
    let body = message.replace("\r\n", "\n");
    if body.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(
            "message",
            "the message must not contain control characters other than line breaks and tabs",
        ));
    }
    if body.chars().count() > MAX_MESSAGE_CHARS {
        return Err(invalid("message", format!("the message has at most {MAX_MESSAGE_CHARS} characters")));
    }
    if body.trim().is_empty() {
        return Err(invalid("message", "the message must not be empty"));
    }
    Ok(body)
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &[u8]) -> Result<Self, InvalidField> {
        if raw.is_empty() || raw.len() > MAX_IDEMPOTENCY_KEY_CHARS || !raw.iter().all(u8::is_ascii_graphic) {
            return Err(invalid(
                "Idempotency-Key",
                format!("the key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"),
            ));
        }
        Ok(Self(String::from_utf8_lossy(raw).into_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as one caller's (`Caller::id`): what the store compares, so one client's key
    /// never finds, replays or blocks another client's job.
    pub fn scoped_to(&self, caller: &str) -> ScopedKey {
        // The key is visible ASCII without spaces, so the space keeps the two parts apart.
        ScopedKey(format!("{caller} {}", self.0))
    }
}

/// An [`IdempotencyKey`] with the caller that sent it (see [`IdempotencyKey::scoped_to`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedKey(String);

impl ScopedKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(request: NotificationRequest) -> Result<NewNotification, InvalidField> {
        NewNotification::parse(request, &AddressRules::default())
    }

    fn request(email: &str, subject: Option<&str>, message: &str) -> NotificationRequest {
        NotificationRequest {
            email: Some(email.into()),
            recipients: None,
            subject: subject.map(Into::into),
            message: message.into(),
            attachments: None,
        }
    }

    #[test]
    fn a_plain_request_is_accepted_with_the_default_subject() {
        let n = parse(request("ada@example.org", None, "Hello\r\nthere")).unwrap();
        assert_eq!(n.recipients(), ["ada@example.org"]);
        assert_eq!(n.subject(), DEFAULT_SUBJECT);
        assert_eq!(n.body(), "Hello\nthere");
    }

    #[test]
    fn header_injection_is_refused_in_every_header_field() {
        for subject in
            ["Hi\r\nBcc: victim@example.org", "Hi\nX: y", "Hi\rX", "nul\0", "tab\tbed", "\u{85}next line"]
        {
            let err = parse(request("a@example.org", Some(subject), "m")).unwrap_err();
            assert_eq!(err.field, "subject", "{subject:?}");
        }
        for email in [
            "a@example.org\r\nBcc: b@example.org",
            "a@example.org\n",
            "a @example.org",
            "<a@example.org>",
            "\"a,b\"@example.org",
            "\"<b>\"@example.org",
        ] {
            let err = parse(request(email, None, "m")).unwrap_err();
            assert_eq!(err.field, "email", "{email:?}");
        }
    }

    #[test]
    fn recipients_are_bounded_deduplicated_and_exclusive_with_email() {
        let many = |n: usize| NotificationRequest {
            email: None,
            recipients: Some((0..n).map(|i| format!("p{i}@example.org")).collect()),
            subject: None,
            message: "m".into(),
            attachments: None,
        };
        assert!(parse(many(MAX_RECIPIENTS)).is_ok());
        assert_eq!(parse(many(MAX_RECIPIENTS + 1)).unwrap_err().field, "recipients");
        assert_eq!(parse(many(0)).unwrap_err().field, "recipients");
        let mut dup = many(2);
        dup.recipients = Some(vec!["a@example.org".into(), "b@example.org".into(), "A@example.org".into()]);
        assert_eq!(parse(dup).unwrap().recipients(), ["a@example.org", "b@example.org"]);
        let mut both = many(1);
        both.email = Some("a@example.org".into());
        assert_eq!(parse(both).unwrap_err().field, "recipients");
    }

    #[test]
    fn addresses_go_out_composed_with_ascii_domains_and_without_invisible_characters() {
        let n = parse(request("zoe\u{308}@b\u{fc}cher.example", None, "m"));
        assert_eq!(n.unwrap_err().field, "email", "a non-ASCII local part needs SMTPUTF8");
        let rules = AddressRules { smtputf8: true, domains: None };
        let n = NewNotification::parse(request("zoe\u{308}@b\u{fc}cher.example", None, "m"), &rules).unwrap();
        assert_eq!(n.recipients(), ["zo\u{eb}@xn--bcher-kva.example"]);
        let n = parse(request("ada@B\u{fc}cher.Example", None, "m")).unwrap();
        assert_eq!(n.recipients(), ["ada@xn--bcher-kva.example"], "IDNA domains need no SMTPUTF8");
        for email in ["ada\u{200B}@example.org", "ada@exa\u{00AD}mple.org", "ada@exa%6Dple.org"] {
            assert_eq!(parse(request(email, None, "m")).unwrap_err().field, "email", "{email:?}");
        }
        let twins = NotificationRequest {
            email: None,
            recipients: Some(vec!["ada@example.org".into(), "ada@\u{FF45}xample.org".into()]),
            subject: None,
            message: "m".into(),
            attachments: None,
        };
        assert_eq!(parse(twins).unwrap().recipients(), ["ada@example.org"], "look-alikes get one mail");
    }

    #[test]
    fn recipient_domains_allow_only_the_listed_domains() {
        let rules = AddressRules { smtputf8: false, domains: Some(vec!["example.org".into()]) };
        assert!(NewNotification::parse(request("ada@Example.ORG", None, "m"), &rules).is_ok());
        for email in ["ada@evil.example", "ada@sub.example.org", "ada@example.org.evil.example"] {
            let err = NewNotification::parse(request(email, None, "m"), &rules).unwrap_err();
            assert!(err.message.contains("RECIPIENT_DOMAINS"), "{email}: {}", err.message);
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let long_subject = "s".repeat(MAX_SUBJECT_CHARS + 1);
        assert!(parse(request("a@example.org", Some(&long_subject), "m")).is_err());
        let long_message = "m".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(parse(request("a@example.org", None, &long_message)).is_err());
        let long_address = format!("{}@example.org", "a".repeat(250));
        assert!(parse(request(&long_address, None, "m")).is_err());
        assert!(parse(request("a@example.org", None, "  \n ")).is_err());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse(b"outbox-42").is_ok());
        assert!(IdempotencyKey::parse(b"").is_err());
        assert!(IdempotencyKey::parse(b"with space").is_err());
        assert!(IdempotencyKey::parse(&[b'k'; 256]).is_err());
        let key = IdempotencyKey::parse(b"outbox-42").unwrap();
        assert_ne!(key.scoped_to("token:aaaa"), key.scoped_to("token:bbbb"));
        assert_eq!(
            key.scoped_to("token:aaaa"),
            IdempotencyKey::parse(b"outbox-42").unwrap().scoped_to("token:aaaa")
        );
    }
}
