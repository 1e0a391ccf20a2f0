//! Keeping a prompt inside the model's context window without the model's tokenizer: an
//! upper-bound estimate (every CJK character a token, every three other bytes a token, a
//! few tokens per message), which real tokenizers of DeepSeek, Qwen, GLM and Llama stay
//! under for Chinese and English text.

use crate::lang::is_cjk;

pub fn estimate_tokens(text: &str) -> usize {
    let mut cjk = 0;
    let mut other = 0;
    for c in text.chars() {
        if is_cjk(c) {
            cjk += 1;
        } else {
            other += c.len_utf8();
        }
    }
    cjk + other.div_ceil(3)
}

/// Per-message overhead of the chat format (role markers and separators).
pub const MESSAGE_OVERHEAD: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_is_an_upper_bound_shape() {
        assert_eq!(estimate_tokens("故宫"), 2);
        assert_eq!(estimate_tokens("abcdef"), 2);
        assert_eq!(estimate_tokens("故宫 opened 1925"), 2 + 4);
    }
}
