//! The form of names and addresses that search and sort compare: compatibility-decomposed
//! (NFKD), combining marks removed, lower-cased. `Ölmann`, `OLMANN` and `olmann` fold alike,
//! as do `Siobhán` and `siobhan`, and full-width letters fold to their ASCII twins. Letters that
//! are not a base letter plus a mark (`ø`, `ł`, `ß`) stay themselves.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// `text` folded for comparison (see the module).
pub fn fold(text: &str) -> String {
    text.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn accents_case_and_width_fold_away() {
        assert_eq!(fold("Ölmann"), "olmann");
        assert_eq!(fold("Siobhán Ní Bhriain"), "siobhan ni bhriain");
        assert_eq!(fold("ＪＡＮＥ"), "jane");
        assert_eq!(fold("O\u{308}lmann"), "olmann");
        assert_eq!(fold("Søren"), "søren");
    }
}
