//! The forms an identifier hides in, undone before matching.
//!
//! People type identifiers in full-width digits (`１３８１２３４５６７８`, from a Chinese input
//! method), with full-width labels and punctuation (`住院号：ＺＹ２０２４０００１`), and grouped by
//! dots or other separators (`138.1234.5678`, `110105.19491231.002X`). The detectors are
//! written for ASCII and for the usual groupings, so each one runs on three views of the text:
//! as typed, after Unicode NFKC (full-width → ASCII, compatibility forms folded), and after NFKC
//! with the separators between digits removed. Every view keeps, for each of its bytes, the
//! span of the character of the original text it came from, so a match in any view maps back
//! onto the original text and replaces exactly the characters that spelled the identifier.

use unicode_normalization::UnicodeNormalization;

use crate::scan::Candidate;

/// A rewritten text and where each of its bytes came from.
pub(crate) struct View {
    pub text: String,
    /// For each byte of `text`: the start and end, in the original text, of the character
    /// that produced it.
    origin: Vec<(usize, usize)>,
}

impl View {
    /// The original text after NFKC, one character at a time (so each output character has one
    /// source character; composition across characters does not matter for identifiers).
    pub fn folded(original: &str) -> Self {
        let mut text = String::with_capacity(original.len());
        let mut origin = Vec::with_capacity(original.len());
        for (start, c) in original.char_indices() {
            let end = start + c.len_utf8();
            for folded in std::iter::once(c).nfkc() {
                text.push(folded);
                origin.extend(std::iter::repeat_n((start, end), folded.len_utf8()));
            }
        }
        Self { text, origin }
    }

    /// This view with every run of separators that stands between a digit and a digit (or the
    /// check character `X` of an ID number) removed: `138.1234.5678` → `13812345678`.
    pub fn joined(&self) -> Self {
        let chars: Vec<(usize, char)> = self.text.char_indices().collect();
        let mut text = String::with_capacity(self.text.len());
        let mut origin = Vec::with_capacity(self.origin.len());
        let mut i = 0;
        while i < chars.len() {
            let (at, c) = chars[i];
            if is_separator(c) && i > 0 && chars[i - 1].1.is_ascii_digit() {
                let run_end = (i..chars.len())
                    .find(|&j| !is_separator(chars[j].1))
                    .unwrap_or(chars.len());
                let resumes_number = chars
                    .get(run_end)
                    .is_some_and(|&(_, next)| next.is_ascii_digit() || next == 'X' || next == 'x');
                if resumes_number {
                    i = run_end;
                    continue;
                }
            }
            text.push(c);
            let len = c.len_utf8();
            origin.extend_from_slice(&self.origin[at..at + len]);
            i += 1;
        }
        Self { text, origin }
    }

    /// Whether the view differs from `other` at all (when it does not, matching it again finds
    /// nothing new).
    pub fn same_as(&self, other: &str) -> bool {
        self.text == other
    }

    /// A candidate found in this view, moved onto the original text: from the start of the
    /// character its first byte came from to the end of the character its last byte came from.
    pub fn to_original(&self, candidate: Candidate) -> Option<Candidate> {
        if candidate.end <= candidate.start {
            return None;
        }
        let (start, _) = *self.origin.get(candidate.start)?;
        let (_, end) = *self.origin.get(candidate.end - 1)?;
        Some(Candidate {
            start,
            end,
            ..candidate
        })
    }
}

/// What people put between the groups of a number: spaces of every width, dots, hyphens and
/// dashes, middle dots, underscores and slashes (after NFKC, so full-width forms are already
/// ASCII here).
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '-'
                | '_'
                | '/'
                | '·'
                | '・'
                | '‐'
                | '‑'
                | '‒'
                | '–'
                | '—'
                | '―'
                | '−'
                | '~'
                | '〜'
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::IdentifierKind;

    #[test]
    fn folding_maps_full_width_back() {
        let original = "电话１３８";
        let view = View::folded(original);
        assert_eq!(view.text, "电话138");
        let found = Candidate::new(IdentifierKind::Phone, 6, 9, String::new());
        let back = view.to_original(found).expect("maps back");
        assert_eq!(&original[back.start..back.end], "１３８");
    }

    #[test]
    fn joining_removes_separators_between_digits_only() {
        let view = View::folded("tel 138.1234.5678. Dose 2 mg - ok; 110105.19491231.002X");
        assert_eq!(
            view.joined().text,
            "tel 13812345678. Dose 2 mg - ok; 11010519491231002X"
        );
        let original = "号 １３８－１２３４－５６７８ 吧";
        let joined = View::folded(original).joined();
        assert_eq!(joined.text, "号 13812345678 吧");
        let start = joined.text.find('1').expect("digits");
        let found = Candidate::new(IdentifierKind::Phone, start, start + 11, String::new());
        let back = joined.to_original(found).expect("maps back");
        assert_eq!(
            &original[back.start..back.end],
            "１３８－１２３４－５６７８"
        );
    }
}
