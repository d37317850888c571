//! Which characters stored text may hold: what XML 1.0 can carry (the `Char` production), less
//! the control characters and Unicode noncharacters no person types.
//!
//! Every service publishes what it stores in formats with a grammar of their own (Atom and HTML
//! pages, iCalendar, e-mail), so text is refused at the door when one of those could not carry
//! it: a U+FFFF in a name makes every feed page holding it ill-formed XML for every reader.
//! Rust strings cannot hold surrogates, so those never get this far.

/// The first character of `text` that stored text may not hold, if any.
///
/// Refused everywhere: C0 controls (U+0000..U+001F) and DEL and C1 controls (U+007F..U+009F),
/// except, when `multiline`, TAB, LF and CR; every Unicode noncharacter (U+FDD0..U+FDEF and the
/// last two code points of each plane, U+FFFE/U+FFFF, U+1FFFE/U+1FFFF, ... U+10FFFE/U+10FFFF).
/// Everything else XML 1.0 allows (`#x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF`) is fine.
pub fn first_unsafe_char(text: &str, multiline: bool) -> Option<char> {
    text.chars().find(|c| !is_safe(*c, multiline))
}

/// Whether `c` may be stored (see [`first_unsafe_char`]).
pub fn is_safe(c: char, multiline: bool) -> bool {
    if c.is_control() {
        return multiline && matches!(c, '\t' | '\n' | '\r');
    }
    !is_noncharacter(c)
}

/// Unicode noncharacters: U+FDD0..U+FDEF and U+nFFFE / U+nFFFF on every plane.
pub fn is_noncharacter(c: char) -> bool {
    let code = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&code) || code & 0xFFFE == 0xFFFE
}

/// How to name a refused character in a message: `U+FFFE`.
pub fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_text_in_any_script_is_safe() {
        for text in ["Zoë", "山田", "<script>&amp;", "emoji 🎉", "\u{E000}\u{FFFD}\u{10000}\u{10FFFD}", ""]
        {
            assert_eq!(first_unsafe_char(text, false), None, "{text:?}");
        }
    }

    #[test]
    fn controls_are_refused_except_line_breaks_and_tabs_in_multiline_text() {
        for c in ['\u{0}', '\u{8}', '\u{B}', '\u{C}', '\u{1B}', '\u{7F}', '\u{80}', '\u{85}', '\u{9F}'] {
            assert_eq!(first_unsafe_char(&format!("a{c}b"), false), Some(c), "{}", describe(c));
            assert_eq!(first_unsafe_char(&format!("a{c}b"), true), Some(c), "{}", describe(c));
        }
        for c in ['\t', '\n', '\r'] {
            assert_eq!(first_unsafe_char(&format!("a{c}b"), false), Some(c));
            assert_eq!(first_unsafe_char(&format!("a{c}b"), true), None);
        }
    }

    #[test]
    fn every_noncharacter_is_refused() {
        let mut nonchars: Vec<u32> = (0xFDD0..=0xFDEF).collect();
        for plane in 0..=0x10 {
            nonchars.push((plane << 16) | 0xFFFE);
            nonchars.push((plane << 16) | 0xFFFF);
        }
        assert_eq!(nonchars.len(), 66, "Unicode has 66 noncharacters");
        for code in nonchars {
            let c = char::from_u32(code).unwrap();
            assert_eq!(first_unsafe_char(&format!("ok{c}"), true), Some(c), "{}", describe(c));
        }
        for code in [0xFDCF, 0xFDF0, 0xFFFD, 0x1FFFD, 0x20000] {
            assert!(is_safe(char::from_u32(code).unwrap(), false), "U+{code:X}");
        }
    }

    #[test]
    fn refused_characters_are_named_by_code_point() {
        assert_eq!(describe('\u{FFFE}'), "U+FFFE");
        assert_eq!(describe('\u{1}'), "U+0001");
        assert_eq!(describe('\u{10FFFF}'), "U+10FFFF");
    }
}
