//! The id ↔ token table under every frequency-built vocabulary of this crate.
//!
//! [`super::Vocab`] (text classifiers: a tokeniser configuration on top) and the tagger's
//! word and tag lists ([`crate::tagging::Vocab`], an alias of [`TokenTable`]) are both this
//! table. The other two token maps are different on purpose: [`crate::lm::CharVocab`] has no
//! `<pad>`/`<unk>` (a language model must be able to emit every id) and
//! [`crate::translation::SubwordCodec`] segments words by learned BPE merges.

use std::collections::HashMap;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use super::{PAD, PAD_ID, UNK, UNK_ID};

/// Tokens by id, and the id of each token.
///
/// Serialised as `{"tokens": [..]}`; the index is rebuilt on reading.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "TokenList", into = "TokenList")]
pub struct TokenTable {
    tokens: Vec<String>,
    index: HashMap<String, usize>,
}

/// The serialised form of a [`TokenTable`].
#[derive(Clone, Serialize, Deserialize)]
struct TokenList {
    tokens: Vec<String>,
}

impl From<TokenList> for TokenTable {
    fn from(list: TokenList) -> Self {
        Self::from_tokens(list.tokens)
    }
}

impl From<TokenTable> for TokenList {
    fn from(table: TokenTable) -> Self {
        Self {
            tokens: table.tokens,
        }
    }
}

impl PartialEq for TokenTable {
    fn eq(&self, other: &Self) -> bool {
        self.tokens == other.tokens
    }
}

impl Eq for TokenTable {}

impl TokenTable {
    /// The padding id ([`PAD_ID`]) of tables built by [`TokenTable::build`].
    pub const PAD: usize = PAD_ID;
    /// The unknown-token id ([`UNK_ID`]) of tables built by [`TokenTable::build`].
    pub const UNK: usize = UNK_ID;

    /// `<pad>`, `<unk>`, then the tokens seen at least `min_count` times, most frequent first
    /// (ties in string order, so building twice from the same tokens gives the same ids).
    pub fn build<'a>(tokens: impl IntoIterator<Item = &'a str>, min_count: usize) -> Self {
        Self::build_capped(tokens, min_count, None)
    }

    /// [`TokenTable::build`] keeping at most `max_size` ids, `<pad>` and `<unk>` included.
    /// Tokens spelled `<pad>` or `<unk>` in the input are the specials, never new ids.
    pub fn build_capped<S: AsRef<str> + Eq + Hash>(
        tokens: impl IntoIterator<Item = S>,
        min_count: usize,
        max_size: Option<usize>,
    ) -> Self {
        let mut counts: HashMap<S, usize> = HashMap::new();
        for token in tokens {
            *counts.entry(token).or_default() += 1;
        }
        let mut ranked: Vec<(S, usize)> = counts
            .into_iter()
            .filter(|(t, c)| *c >= min_count.max(1) && ![PAD, UNK].contains(&t.as_ref()))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.as_ref().cmp(b.0.as_ref())));
        let room = max_size.map_or(usize::MAX, |m| m.saturating_sub(2));
        let mut ids = vec![PAD.to_string(), UNK.to_string()];
        ids.extend(
            ranked
                .into_iter()
                .take(room)
                .map(|(t, _)| t.as_ref().to_string()),
        );
        Self::from_tokens(ids)
    }

    /// A table from its id-ordered tokens, as stored in a run folder. Fixed label lists (tag
    /// sets) use this too: they have no `<pad>`/`<unk>` unless the list holds them. A token
    /// listed twice keeps its first id ([`TokenTable::has_duplicates`] tells).
    pub fn from_tokens(tokens: Vec<String>) -> Self {
        let mut index = HashMap::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            index.entry(token.clone()).or_insert(i);
        }
        Self { tokens, index }
    }

    /// Number of ids: the embedding table's row count.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// True when there are no ids.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The tokens, by id.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The id of `token`, if it is in the table.
    pub fn get(&self, token: &str) -> Option<usize> {
        self.index.get(token).copied()
    }

    /// The id of `token`, or `<unk>` ([`UNK_ID`]).
    pub fn id(&self, token: &str) -> usize {
        self.get(token).unwrap_or(UNK_ID)
    }

    /// The token of `id`.
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// Whether some token is listed twice (a hand-edited or corrupt file).
    pub fn has_duplicates(&self) -> bool {
        self.index.len() != self.tokens.len()
    }

    /// Whether ids 0 and 1 are `<pad>` and `<unk>`.
    pub fn starts_with_specials(&self) -> bool {
        self.token(PAD_ID) == Some(PAD) && self.token(UNK_ID) == Some(UNK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequency_order_specials_and_cap() {
        let t = TokenTable::build(["a", "b", "a", "c", "a", "b"], 2);
        assert_eq!(t.tokens(), ["<pad>", "<unk>", "a", "b"]);
        assert_eq!((t.id("b"), t.id("zzz"), t.get("zzz")), (3, UNK_ID, None));
        assert_eq!(t.token(2), Some("a"));
        assert!(t.starts_with_specials() && !t.has_duplicates());
        // Ties in string order; the cap counts the specials.
        let capped = TokenTable::build_capped(["y", "x", "z", "z"], 1, Some(4));
        assert_eq!(capped.tokens(), ["<pad>", "<unk>", "z", "x"]);
        // Literal specials in the input are not given a second id.
        let literal = TokenTable::build(["<unk>", "<pad>", "w"], 1);
        assert_eq!(literal.tokens(), ["<pad>", "<unk>", "w"]);
    }

    #[test]
    fn serialises_as_a_token_list_and_rebuilds_the_index() {
        let tags = TokenTable::from_tokens(vec!["O".into(), "B-PER".into(), "I-PER".into()]);
        let json = serde_json::to_string(&tags).unwrap();
        assert_eq!(json, r#"{"tokens":["O","B-PER","I-PER"]}"#);
        let back: TokenTable = serde_json::from_str(&json).unwrap();
        assert_eq!(back, tags);
        assert_eq!(back.get("I-PER"), Some(2));
        assert!(!back.starts_with_specials());
        let twice = TokenTable::from_tokens(vec!["a".into(), "a".into()]);
        assert!(twice.has_duplicates());
        assert_eq!(twice.get("a"), Some(0));
    }
}
