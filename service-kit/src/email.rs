//! E-mail addresses as all three services take them, so that one person has one address.
//!
//! An address is stored in Unicode NFC (`Zoë` typed with a combining diaeresis and with the
//! precomposed letter is one address), and refused when it holds a character no one can see or
//! type on purpose: white space, control characters, noncharacters and Unicode's
//! default-ignorable code points (zero-width space and joiners, bidirectional controls, soft
//! hyphen, variation selectors, tags). [`lookalike_key`] is what uniqueness compares: it also
//! folds compatibility forms (full-width `ｊａｎｅ` is `jane`) and case.
//!
//! Syntax is each caller's own check (contacts and calendar with `email_address`, notifications
//! with `lettre`'s parser, which is the one that must deliver the mail). [`mailto`] builds the link
//! a page shows, percent-encoded so that `?`, `&` and `%` in a local part stay part of the
//! address instead of adding `cc=` or `body=` to the mail a click starts.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use unicode_normalization::UnicodeNormalization;

/// A character an address may not hold, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// White space or a control character (CR and LF among them: an address goes into headers).
    SpaceOrControl(char),
    /// A Unicode noncharacter (U+FFFE and kin): no format we publish can carry it.
    Noncharacter(char),
    /// A default-ignorable code point: invisible, so it would make a look-alike of another address.
    Invisible(char),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::SpaceOrControl(_) => f.write_str("must not contain spaces or control characters"),
            Self::Noncharacter(c) => {
                write!(f, "must not contain {} (a noncharacter)", crate::text::describe(c))
            }
            Self::Invisible(c) => {
                write!(f, "must not contain {} (an invisible character)", crate::text::describe(c))
            }
        }
    }
}

impl std::error::Error for Refused {}

/// The address in NFC, or the first character it may not hold (see the module).
pub fn normalize(raw: &str) -> Result<String, Refused> {
    if let Some(refused) = raw.chars().find_map(refusal) {
        return Err(refused);
    }
    Ok(raw.nfc().collect())
}

fn refusal(c: char) -> Option<Refused> {
    if c.is_whitespace() || c.is_control() {
        Some(Refused::SpaceOrControl(c))
    } else if crate::text::is_noncharacter(c) {
        Some(Refused::Noncharacter(c))
    } else if is_default_ignorable(c) {
        Some(Refused::Invisible(c))
    } else {
        None
    }
}

/// Unicode's `Default_Ignorable_Code_Point` property (DerivedCoreProperties.txt):
/// characters a renderer shows as nothing at all.
pub fn is_default_ignorable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// What uniqueness compares: compatibility-composed (NFKC) and lower-cased, so
/// `Jane@Example.org`, `ｊａｎｅ@example.org` and `jane@ｅｘａｍｐｌｅ.org` are one address.
pub fn lookalike_key(address: &str) -> String {
    address.nfkc().flat_map(char::to_lowercase).collect()
}

/// Whether the local part (before the last `@`) is all ASCII: what an SMTP server without the
/// SMTPUTF8 extension (RFC 6531) can be given.
pub fn local_part_is_ascii(address: &str) -> bool {
    address.rsplit_once('@').map_or(address, |(local, _)| local).is_ascii()
}

/// The address with its domain in ASCII (IDNA, as DNS and every SMTP server know it):
/// `jane@bücher.example` is `jane@xn--bcher-kva.example`. `None` when the domain is not a valid
/// internationalised domain name.
pub fn with_ascii_domain(address: &str) -> Option<String> {
    let (local, domain) = address.rsplit_once('@')?;
    if domain.contains('%') {
        // `url` would percent-decode it; no domain name holds one.
        return None;
    }
    match url::Host::parse(domain).ok()? {
        url::Host::Domain(ascii) => Some(format!("{local}@{ascii}")),
        url::Host::Ipv4(_) | url::Host::Ipv6(_) => None,
    }
}

/// The domain of an address (after the last `@`), lower-cased and in ASCII when it is a valid
/// domain name: what an allow-list of domains compares.
pub fn domain(address: &str) -> Option<String> {
    with_ascii_domain(address).and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
}

/// Everything RFC 6068 lets stand in a `mailto:` address part, less `@` (a quoted local part may
/// hold one): the rest, and every non-ASCII byte, is percent-encoded.
const MAILTO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The `mailto:` URI of an address: local part and domain percent-encoded, so the link names
/// exactly this one recipient and nothing else (no `cc`, `bcc`, `subject` or `body`).
pub fn mailto(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            format!("mailto:{}@{}", utf8_percent_encode(local, MAILTO), utf8_percent_encode(domain, MAILTO))
        }
        None => format!("mailto:{}", utf8_percent_encode(address, MAILTO)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_spellings_are_one_address() {
        let composed = normalize("zo\u{eb}@example.org").unwrap();
        let decomposed = normalize("zoe\u{308}@example.org").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(composed, "zo\u{eb}@example.org");
    }

    #[test]
    fn invisible_characters_are_refused_by_name() {
        for c in ['\u{200B}', '\u{200D}', '\u{00AD}', '\u{2066}', '\u{FEFF}', '\u{FE0F}', '\u{E0041}'] {
            let refused = normalize(&format!("jane{c}@example.org")).unwrap_err();
            assert_eq!(refused, Refused::Invisible(c));
            assert!(refused.to_string().contains(&crate::text::describe(c)), "{refused}");
        }
        assert_eq!(normalize("ja ne@example.org"), Err(Refused::SpaceOrControl(' ')));
        assert_eq!(normalize("jane@example.org\r\nBcc: x@y.z"), Err(Refused::SpaceOrControl('\r')));
        assert_eq!(normalize("jane\u{FFFF}@example.org"), Err(Refused::Noncharacter('\u{FFFF}')));
        // Visible letters of any script are fine.
        assert!(normalize("山田@例え.jp").is_ok());
        assert!(!is_default_ignorable('a') && !is_default_ignorable('\u{2013}'));
    }

    #[test]
    fn look_alikes_share_a_key() {
        let key = lookalike_key("jane@example.org");
        for twin in
            ["Jane@Example.ORG", "\u{FF4A}\u{FF41}\u{FF4E}\u{FF45}@example.org", "jane@\u{FF45}xample.org"]
        {
            assert_eq!(lookalike_key(twin), key, "{twin}");
        }
        assert_ne!(lookalike_key("jane@example.com"), key);
    }

    #[test]
    fn only_the_local_part_needs_smtputf8() {
        assert!(local_part_is_ascii("jane@b\u{fc}cher.example"));
        assert!(!local_part_is_ascii("j\u{e4}ne@example.org"));
        assert_eq!(with_ascii_domain("jane@B\u{fc}cher.example").unwrap(), "jane@xn--bcher-kva.example");
        assert_eq!(with_ascii_domain("jane@example.org").unwrap(), "jane@example.org");
        assert_eq!(domain("jane@Example.ORG").as_deref(), Some("example.org"));
        assert_eq!(domain("jane@[127.0.0.1]"), None);
    }

    #[test]
    fn mailto_links_name_one_recipient_and_nothing_else() {
        assert_eq!(mailto("jane@example.org"), "mailto:jane@example.org");
        let hostile = mailto("x?cc=victim%40evil.example&body=hi@example.org");
        assert_eq!(hostile, "mailto:x%3Fcc%3Dvictim%2540evil.example%26body%3Dhi@example.org");
        assert!(!hostile.contains('?') && !hostile.contains('&'));
        assert_eq!(mailto("\"a@b\"@example.org"), "mailto:%22a%40b%22@example.org");
        assert_eq!(mailto("zo\u{eb}@example.org"), "mailto:zo%C3%AB@example.org");
    }
}
