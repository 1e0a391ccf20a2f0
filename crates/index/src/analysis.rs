//! Tokenizers for mixed Chinese + English text.
//!
//! `zh_en`: jieba (search mode) segments Chinese and passes English words through; tokens with
//! no letter or digit (spaces, "，" "。") are dropped; then lower-casing and English stemming
//! (which leaves Chinese tokens alone). `cjk_bigram`: overlapping character bigrams of CJK runs
//! only, a second field that catches names and new terms jieba's dictionary does not know.

use tantivy::tokenizer::{
    Language, LowerCaser, Stemmer, TextAnalyzer, Token, TokenStream, Tokenizer,
};

pub const ZH_EN: &str = "zh_en";
pub const CJK_BIGRAM: &str = "cjk_bigram";

/// A token stream over tokens computed up front.
pub struct VecTokenStream {
    tokens: Vec<Token>,
    next: usize,
}

impl TokenStream for VecTokenStream {
    fn advance(&mut self) -> bool {
        self.next += 1;
        self.next <= self.tokens.len()
    }
    fn token(&self) -> &Token {
        &self.tokens[self.next - 1]
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.next - 1]
    }
}

/// Jieba without whitespace and punctuation tokens.
#[derive(Clone, Default)]
pub struct JiebaWords {
    inner: tantivy_jieba::JiebaTokenizer,
}

impl Tokenizer for JiebaWords {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut stream = self.inner.token_stream(text);
        let mut tokens = Vec::new();
        while stream.advance() {
            let t = stream.token();
            if t.text.chars().any(char::is_alphanumeric) {
                let mut t = t.clone();
                t.position = tokens.len();
                tokens.push(t);
            }
        }
        VecTokenStream { tokens, next: 0 }
    }
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// Overlapping bigrams of CJK characters; a lone CJK character becomes a unigram.
#[derive(Clone, Default)]
pub struct CjkBigrams;

impl Tokenizer for CjkBigrams {
    type TokenStream<'a> = VecTokenStream;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream {
        let mut tokens = Vec::new();
        let mut run: Vec<(usize, char)> = Vec::new();
        let flush = |run: &mut Vec<(usize, char)>, tokens: &mut Vec<Token>| {
            let end_of = |i: usize, c: char| i + c.len_utf8();
            if run.len() == 1 {
                let (i, c) = run[0];
                tokens.push(token(text, i, end_of(i, c), tokens.len()));
            }
            for w in run.windows(2) {
                let (i, _) = w[0];
                let (j, c) = w[1];
                tokens.push(token(text, i, end_of(j, c), tokens.len()));
            }
            run.clear();
        };
        for (i, c) in text.char_indices() {
            if is_cjk(c) {
                run.push((i, c));
            } else if !run.is_empty() {
                flush(&mut run, &mut tokens);
            }
        }
        flush(&mut run, &mut tokens);
        VecTokenStream { tokens, next: 0 }
    }
}

fn token(text: &str, from: usize, to: usize, position: usize) -> Token {
    Token {
        offset_from: from,
        offset_to: to,
        position,
        text: text[from..to].to_string(),
        position_length: 1,
    }
}

pub fn zh_en_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaWords::default())
        .filter(LowerCaser)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// Loads jieba's dictionary (a few hundred ms, once per process) now rather than on the
/// first query.
pub fn warm_up() {
    let _ = tokens(&mut zh_en_analyzer(), "预热词典 warm-up");
}

pub fn cjk_bigram_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(CjkBigrams).build()
}

/// The analyzer's tokens for a text, deduplicated in first-seen order.
pub fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut stream = analyzer.token_stream(text);
    while stream.advance() {
        let t = &stream.token().text;
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_text_tokens() {
        let mut a = zh_en_analyzer();
        let t = tokens(&mut a, "故宫的建筑年代，Running teachers。");
        assert!(t.contains(&"故宫".to_string()), "{t:?}");
        assert!(t.contains(&"建筑".to_string()), "{t:?}");
        assert!(t.contains(&"run".to_string()), "{t:?}");
        assert!(t.contains(&"teacher".to_string()), "{t:?}");
        assert!(
            !t.iter()
                .any(|x| x == "，" || x == "。" || x.trim().is_empty()),
            "{t:?}"
        );
    }

    #[test]
    fn bigrams_of_cjk_runs_only() {
        let mut a = cjk_bigram_analyzer();
        assert_eq!(
            tokens(&mut a, "颐和园 in 北京"),
            vec!["颐和", "和园", "北京"]
        );
        assert_eq!(tokens(&mut a, "a 京 b"), vec!["京"]);
    }
}
