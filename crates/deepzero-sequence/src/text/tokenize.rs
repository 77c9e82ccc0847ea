//! Splitting text into tokens.
//!
//! [`split_words`] is a small Unicode-aware word splitter: a word is a run of letters, digits
//! or `_` (any script: `café`, `Москва`, `2024`), with an apostrophe kept inside a word
//! (`don't`); every other visible character (punctuation, symbols) is a token of its own; and
//! every CJK character (Chinese, Japanese kana, Korean syllables) is a token of its own, since
//! those scripts do not separate words by spaces. Whitespace separates and is dropped.

/// True for the characters of the CJK scripts that are tokenised one character at a time:
/// CJK ideographs (with extensions A–B and compatibility ideographs), CJK punctuation, kana,
/// Hangul syllables and full-width forms.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F   // CJK symbols and punctuation (、。「」)
        | 0x3040..=0x30FF // hiragana, katakana
        | 0x3400..=0x4DBF // extension A
        | 0x4E00..=0x9FFF // unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // compatibility ideographs
        | 0xFF00..=0xFFEF // full-width forms (，！？)
        | 0x20000..=0x2A6DF) // extension B
}

fn is_word_char(c: char) -> bool {
    (c.is_alphanumeric() || c == '_') && !is_cjk(c)
}

/// Splits `text` into words, CJK characters and single punctuation marks (see the module
/// docs). The pieces borrow from `text`.
///
/// ```
/// use deepzero_sequence::text::split_words;
/// assert_eq!(split_words("Don't panic, café 42!"), ["Don't", "panic", ",", "café", "42", "!"]);
/// assert_eq!(split_words("我爱NLP。"), ["我", "爱", "NLP", "。"]);
/// ```
pub fn split_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_word_char(c) {
            let mut j = i + 1;
            while j < chars.len() {
                let d = chars[j].1;
                let apostrophe = (d == '\'' || d == '’')
                    && chars.get(j + 1).is_some_and(|&(_, e)| is_word_char(e));
                if is_word_char(d) || apostrophe {
                    j += 1;
                } else {
                    break;
                }
            }
            let end = chars.get(j).map_or(text.len(), |&(p, _)| p);
            out.push(&text[start..end]);
            i = j;
        } else {
            let end = start + c.len_utf8();
            out.push(&text[start..end]);
            i += 1;
        }
    }
    out
}

/// Splits `text` into its visible characters (whitespace is dropped): the tokens of a
/// character-level model, and how Chinese text is tokenised.
pub fn split_chars(text: &str) -> Vec<&str> {
    text.char_indices()
        .filter(|(_, c)| !c.is_whitespace())
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_punctuation_and_scripts() {
        assert_eq!(
            split_words("Hello,  world! It's 3.5 km."),
            ["Hello", ",", "world", "!", "It's", "3", ".", "5", "km", "."]
        );
        assert_eq!(split_words("Москва—Zürich"), ["Москва", "—", "Zürich"]);
        assert_eq!(split_words("  "), Vec::<&str>::new());
        // A trailing apostrophe is punctuation, not part of the word.
        assert_eq!(split_words("dogs' toys"), ["dogs", "'", "toys"]);
    }

    #[test]
    fn chinese_is_one_token_per_character() {
        assert_eq!(
            split_words("这个手机很好用，推荐iPhone"),
            [
                "这", "个", "手", "机", "很", "好", "用", "，", "推", "荐", "iPhone"
            ]
        );
        assert_eq!(split_chars("好 用!"), ["好", "用", "!"]);
        assert!(is_cjk('好') && is_cjk('。') && !is_cjk('a') && !is_cjk('é'));
    }
}
