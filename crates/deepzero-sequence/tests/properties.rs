//! Property tests (proptest) of the tokenisers and the evaluation metrics: encode/decode round
//! trips of the word and character vocabularies, BPE, the translation subword codec and the
//! Hugging Face tokenisers; unknown-token handling; BLEU and seqeval invariants.
//!
//! Each property runs a modest number of cases so that the file stays within a few seconds in
//! release; `PROPTEST_CASES=N` raises it for a longer search.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::LazyLock;

use deepzero_sequence::hf::HfTokenizer;
use deepzero_sequence::tagging::{Vocab as TagVocab, entity_report, get_entities};
use deepzero_sequence::text::{
    Bpe, PAD_ID, UNK, UNK_ID, Vocab, VocabConfig, split_chars, split_words,
};
use deepzero_sequence::translation::{BOS_ID, EOS_ID, SubwordCodec, corpus_bleu, sentence_bleu};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Words over a small alphabet (accented and CJK characters included), as text lines.
fn word() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-eé]{1,7}|好|，").unwrap()
}

fn sentence() -> impl Strategy<Value = String> {
    proptest::collection::vec(word(), 1..12).prop_map(|w| w.join(" "))
}

fn corpus() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(sentence(), 1..8)
}

/// Every character of `texts` (whitespace excluded).
fn alphabet(texts: &[String]) -> BTreeSet<char> {
    texts
        .iter()
        .flat_map(|t| t.chars())
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A text over the characters of `alphabet`, words separated by runs of spaces.
fn text_over(alphabet: &BTreeSet<char>, picks: &[(usize, usize)]) -> String {
    let chars: Vec<char> = alphabet.iter().copied().collect();
    let mut out = String::new();
    for &(pick, spaces) in picks {
        out.push(chars[pick % chars.len()]);
        out.extend(std::iter::repeat_n(' ', spaces % 3));
    }
    out
}

fn picks() -> impl Strategy<Value = Vec<(usize, usize)>> {
    proptest::collection::vec((0..1000usize, 0..6usize), 0..40)
}

proptest! {
    #![proptest_config(config(256))]

    /// `split_words` is idempotent on its own output: the pieces joined by spaces split back
    /// into the same pieces (what makes a word vocabulary's decode re-encodable), and it never
    /// keeps whitespace.
    #[test]
    fn split_words_is_idempotent(text in any::<String>()) {
        let pieces = split_words(&text);
        prop_assert!(pieces.iter().all(|p| !p.is_empty() && !p.chars().any(char::is_whitespace)));
        let joined = pieces.join(" ");
        prop_assert_eq!(split_words(&joined), pieces);
    }

    /// `split_chars` keeps every visible character, in order.
    #[test]
    fn split_chars_keeps_every_visible_character(text in any::<String>()) {
        let visible: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        prop_assert_eq!(split_chars(&text).concat(), visible);
    }

    /// A word vocabulary built from a corpus decodes the encoding of any text made of its words
    /// to the words joined by single spaces; ids are in range and never `<unk>` or `<pad>`.
    #[test]
    fn word_vocab_round_trip(texts in corpus(), pick in proptest::collection::vec(0..1000usize, 0..30)) {
        let vocab = Vocab::build(
            texts.iter().map(String::as_str),
            VocabConfig::words().with_min_freq(1).with_lowercase(false),
        );
        let words: Vec<&str> = texts.iter().flat_map(|t| split_words(t)).collect();
        let chosen: Vec<&str> = pick.iter().map(|&i| words[i % words.len()]).collect();
        let text = chosen.join("  ");
        let ids = vocab.encode(&text);
        prop_assert_eq!(ids.len(), chosen.len());
        prop_assert!(ids.iter().all(|&i| i > UNK_ID && i < vocab.len()));
        prop_assert_eq!(vocab.decode(&ids), chosen.join(" "));
    }

    /// A character vocabulary decodes to the text without its whitespace.
    #[test]
    fn char_vocab_round_trip(texts in corpus(), picks in picks()) {
        let vocab = Vocab::build(
            texts.iter().map(String::as_str),
            VocabConfig::chars().with_min_freq(1),
        );
        let text = text_over(&alphabet(&texts), &picks);
        let ids = vocab.encode(&text);
        prop_assert!(ids.iter().all(|&i| i > UNK_ID && i < vocab.len()));
        let visible: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        prop_assert_eq!(vocab.decode(&ids), visible);
    }

    /// Tokens the vocabulary has not seen become `<unk>` (1), one id per token, and decode as
    /// `<unk>`; `<pad>` ids are skipped by decode.
    #[test]
    fn vocab_unknown_tokens(texts in corpus(), unknown in "[x-z]{1,5}", pads in 0..4usize) {
        let vocab = Vocab::build(
            texts.iter().map(String::as_str),
            VocabConfig::words().with_min_freq(1).with_lowercase(false),
        );
        let known = split_words(&texts[0])[0];
        let ids = vocab.encode(&format!("{known} {unknown} {known}"));
        prop_assert_eq!(ids.len(), 3);
        prop_assert_eq!(ids[1], UNK_ID);
        prop_assert_eq!(ids[0], ids[2]);
        prop_assert_eq!(vocab.id(&unknown), None);
        let mut padded = ids.clone();
        padded.extend(std::iter::repeat_n(PAD_ID, pads));
        prop_assert_eq!(vocab.decode(&padded), format!("{known} {UNK} {known}"));
        // An id outside the table decodes as <unk> too, never panics.
        prop_assert_eq!(vocab.decode(&[vocab.len() + 7]), UNK);

        let tags = TagVocab::build(split_words(&texts[0]), 1);
        prop_assert_eq!(tags.id(&unknown), TagVocab::UNK);
        prop_assert_eq!(tags.get(&unknown), None);
        prop_assert!(tags.id(known) > TagVocab::UNK && tags.id(known) < tags.len());
    }
}

proptest! {
    #![proptest_config(config(64))]

    /// A BPE model trained on a small corpus encodes any text over the training alphabet
    /// without `<unk>` and decodes it to its words joined by single spaces, whatever the
    /// number of merges.
    #[test]
    fn bpe_round_trip(texts in corpus(), extra in 0..40usize, picks in picks()) {
        let base = alphabet(&texts).len() + 3;
        let bpe = Bpe::train(texts.iter().map(String::as_str), base + extra, false).unwrap();
        prop_assert!(bpe.len() <= base + extra);
        let text = text_over(&alphabet(&texts), &picks);
        let ids = bpe.encode(&text);
        prop_assert!(ids.iter().all(|&i| i > UNK_ID && i < bpe.len()), "{:?}", ids);
        prop_assert_eq!(bpe.decode(&ids), split_words(&text).join(" "));
        // Segmentation covers each word exactly.
        for w in split_words(&text) {
            let symbols = bpe.segment_word(w).concat();
            prop_assert_eq!(symbols, format!("{w}</w>"));
        }
    }

    /// A lower-casing BPE model decodes to the lower-cased words.
    #[test]
    fn bpe_lowercase_round_trip(texts in proptest::collection::vec("[a-dA-D ]{1,30}", 1..6), extra in 0..20usize) {
        prop_assume!(texts.iter().any(|t| !t.trim().is_empty()));
        let bpe = Bpe::train(texts.iter().map(String::as_str), 3 + 4 + extra, true);
        // At most a-d (4 characters) after lower-casing: always fits.
        let bpe = bpe.unwrap();
        let text = texts.join(" ");
        let lower: Vec<String> = split_words(&text).iter().map(|w| w.to_lowercase()).collect();
        prop_assert_eq!(bpe.decode(&bpe.encode(&text)), lower.join(" "));
    }

    /// Characters never seen in training become `<unk>`, and the rest of the text survives.
    #[test]
    fn bpe_unknown_characters(texts in corpus(), extra in 0..20usize, unknown in "[x-z]") {
        let base = alphabet(&texts).len() + 3;
        let bpe = Bpe::train(texts.iter().map(String::as_str), base + extra, false).unwrap();
        let known = split_words(&texts[0])[0].to_string();
        let ids = bpe.encode(&format!("{known} {unknown}"));
        prop_assert_eq!(ids.iter().filter(|&&i| i == UNK_ID).count(), 1);
        prop_assert_eq!(bpe.decode(&ids), format!("{known} {UNK}"));
    }

    /// The translation subword codec is reversible on any text over its training alphabet:
    /// whitespace is normalised to single spaces, punctuation glued to words stays glued.
    #[test]
    fn subword_codec_round_trip(texts in corpus(), extra in 0..40usize, picks in picks()) {
        let size = alphabet(&texts).len() + 6 + extra;
        let codec = SubwordCodec::train(texts.iter().map(String::as_str), size).unwrap();
        let text = text_over(&alphabet(&texts), &picks);
        let ids = codec.encode(&text);
        prop_assert!(ids.iter().all(|&i| i != UNK_ID && i < codec.len()), "{:?}", ids);
        let normalised: Vec<&str> = text.split_whitespace().collect();
        prop_assert_eq!(codec.decode(&ids), normalised.join(" "));
        // <bos> is skipped and decoding stops at <eos>.
        let mut framed = vec![BOS_ID];
        framed.extend(&ids);
        framed.push(EOS_ID);
        framed.extend(&ids);
        prop_assert_eq!(codec.decode(&framed), normalised.join(" "));
    }
}

fn hf(path: &str) -> HfTokenizer {
    HfTokenizer::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hf")
            .join(path),
    )
    .unwrap()
}

static BERT: LazyLock<HfTokenizer> = LazyLock::new(|| hf("bert-tiny/tokenizer.json"));
static GPT2: LazyLock<HfTokenizer> = LazyLock::new(|| hf("gpt2-tiny/tokenizer.json"));

proptest! {
    #![proptest_config(config(128))]

    /// GPT-2's byte-level BPE is lossless: any string comes back byte for byte.
    #[test]
    fn byte_level_bpe_round_trip(text in any::<String>()) {
        prop_assume!(!text.contains("<|endoftext|>"));
        let ids = GPT2.encode(&text, false).unwrap();
        prop_assert!(ids.iter().all(|&i| (i as usize) < GPT2.vocab_size()));
        prop_assert_eq!(GPT2.decode(&ids).unwrap(), text);
    }

    /// BERT's WordPiece (lower-casing, every letter and `##letter` in the vocabulary): words of
    /// letters come back lower-cased and joined by single spaces, with or without [CLS]/[SEP];
    /// a word starting with a character the vocabulary lacks (a digit) is one [UNK].
    #[test]
    fn wordpiece_round_trip(words in proptest::collection::vec("[a-zA-Z]{1,12}", 0..12), digit in "[0-9][a-z]{0,3}") {
        let text = words.join("   ");
        let lower = words.join(" ").to_lowercase();
        let unk = BERT.token_to_id("[UNK]").unwrap();
        let ids = BERT.encode(&text, false).unwrap();
        prop_assert!(!ids.contains(&unk));
        prop_assert_eq!(BERT.decode(&ids).unwrap(), lower.clone());
        let wrapped = BERT.encode(&text, true).unwrap();
        prop_assert_eq!(wrapped.len(), ids.len() + 2);
        prop_assert_eq!(BERT.decode(&wrapped).unwrap(), lower);

        let with_unknown = BERT.encode(&format!("{text} {digit}"), false).unwrap();
        prop_assert_eq!(with_unknown.len(), ids.len() + 1);
        prop_assert_eq!(*with_unknown.last().unwrap(), unk);
    }
}

// ---- BLEU ----------------------------------------------------------------------------------

/// A segment of 4–12 words (so that every n-gram order up to 4 occurs).
fn segment() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-f]{1,3}|[.,!?]", 4..12).prop_map(|w| w.join(" "))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(config(128))]

    /// A hypothesis equal to its reference scores 100 (corpus and sentence BLEU).
    #[test]
    fn bleu_identical_is_100(segments in proptest::collection::vec(segment(), 1..8)) {
        let score = corpus_bleu(&segments, std::slice::from_ref(&segments));
        prop_assert!(close(score.score, 100.0), "{:?}", score);
        prop_assert!(close(score.bp, 1.0));
        prop_assert_eq!(score.counts, score.totals);
        for s in &segments {
            prop_assert!(close(sentence_bleu(s, &[s]).score, 100.0));
        }
    }

    /// Any scores are within [0, 100], the brevity penalty within (0, 1], the precisions within
    /// [0, 100]; and the clipped counts never exceed the hypothesis n-grams.
    #[test]
    fn bleu_is_bounded(
        pairs in proptest::collection::vec((segment(), segment(), "[a-f ]{0,20}"), 1..8),
    ) {
        let hyps: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let refs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let short: Vec<&str> = pairs.iter().map(|p| p.2.as_str()).collect();
        for (h, r) in [(&hyps, &refs), (&short, &refs), (&hyps, &short)] {
            let s = corpus_bleu(h, &[r.to_vec()]);
            prop_assert!((0.0..=100.0 + 1e-9).contains(&s.score), "{:?}", s);
            prop_assert!(s.bp >= 0.0 && s.bp <= 1.0, "{:?}", s);
            prop_assert!(s.precisions.iter().all(|p| (0.0..=100.0 + 1e-9).contains(p)), "{:?}", s);
            prop_assert!(s.counts.iter().zip(&s.totals).all(|(c, t)| c <= t));
            for (hh, rr) in h.iter().zip(r.iter()) {
                let s = sentence_bleu(hh, &[rr]);
                prop_assert!((0.0..=100.0 + 1e-9).contains(&s.score), "{:?}", s);
                prop_assert!(s.bp >= 0.0 && s.bp <= 1.0, "{:?}", s);
            }
        }
    }

    /// Corpus BLEU does not depend on the order of the segments (its statistics are sums).
    #[test]
    fn corpus_bleu_ignores_segment_order(
        pairs in proptest::collection::vec((segment(), segment()), 1..10),
        seed in any::<u64>(),
    ) {
        let hyps: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let refs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let before = corpus_bleu(&hyps, std::slice::from_ref(&refs));
        // A seeded permutation of the pairs.
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        let mut state = seed | 1;
        for i in (1..order.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let hyps2: Vec<&str> = order.iter().map(|&i| hyps[i]).collect();
        let refs2: Vec<&str> = order.iter().map(|&i| refs[i]).collect();
        prop_assert_eq!(corpus_bleu(&hyps2, &[refs2]), before);
    }
}

// ---- seqeval ---------------------------------------------------------------------------------

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => Just("O".to_string()),
        4 => "[BIES]-(PER|LOC|ORG)",
    ]
}

fn tagging() -> impl Strategy<Value = Vec<Vec<String>>> {
    proptest::collection::vec(proptest::collection::vec(tag(), 1..10), 1..6)
}

/// `gold` with some tags changed (same shape).
fn with_errors() -> impl Strategy<Value = (Vec<Vec<String>>, Vec<Vec<String>>)> {
    tagging().prop_flat_map(|gold| {
        let shape: Vec<usize> = gold.iter().map(Vec::len).collect();
        let noise = shape
            .into_iter()
            .map(|n| proptest::collection::vec(proptest::option::weighted(0.3, tag()), n))
            .collect::<Vec<_>>();
        (Just(gold), noise).prop_map(|(gold, noise)| {
            let pred = gold
                .iter()
                .zip(noise)
                .map(|(s, n)| {
                    s.iter()
                        .zip(n)
                        .map(|(t, change)| change.unwrap_or_else(|| t.clone()))
                        .collect()
                })
                .collect();
            (gold, pred)
        })
    })
}

proptest! {
    #![proptest_config(config(256))]

    /// A perfect prediction scores 1 when there is any entity (0 when there is none, as
    /// seqeval).
    #[test]
    fn seqeval_perfect_prediction(gold in tagging()) {
        let report = entity_report(&gold, &gold);
        let any = !get_entities(&gold).is_empty();
        let want = if any { 1.0 } else { 0.0 };
        prop_assert_eq!(report.micro.f1, want);
        prop_assert_eq!(report.micro.precision, want);
        prop_assert_eq!(report.micro.recall, want);
        for scores in report.per_type.values() {
            prop_assert_eq!(scores.f1, 1.0);
        }
    }

    /// Scores are in [0, 1]; swapping gold and prediction swaps precision and recall and keeps
    /// F1; entities never overlap and lie inside the joined sequence.
    #[test]
    fn seqeval_bounds_and_symmetry((gold, pred) in with_errors()) {
        let forward = entity_report(&gold, &pred);
        let backward = entity_report(&pred, &gold);
        for s in std::iter::once(&forward.micro).chain(forward.per_type.values()) {
            for v in [s.precision, s.recall, s.f1] {
                prop_assert!((0.0..=1.0).contains(&v), "{:?}", s);
            }
            prop_assert!(s.f1 <= s.precision.max(s.recall) + 1e-12);
            prop_assert!(s.f1 >= s.precision.min(s.recall) - 1e-12 || s.f1 == 0.0);
            prop_assert!(s.correct <= s.predicted.min(s.support));
        }
        prop_assert_eq!(forward.micro.precision, backward.micro.recall);
        prop_assert_eq!(forward.micro.recall, backward.micro.precision);
        prop_assert!((forward.micro.f1 - backward.micro.f1).abs() < 1e-12);
        prop_assert_eq!(forward.per_type.len(), backward.per_type.len());

        let total: usize = gold.iter().map(|s| s.len() + 1).sum::<usize>() + 1;
        let mut entities = get_entities(&gold);
        entities.sort_by_key(|e| e.1);
        for e in &entities {
            prop_assert!(e.1 <= e.2 && e.2 < total, "{:?}", e);
        }
        for w in entities.windows(2) {
            prop_assert!(w[0].2 < w[1].1, "overlap {:?}", w);
        }
    }
}

// ---- arbitrary Unicode: no panic, and the round trips still hold -------------------------------

proptest! {
    #![proptest_config(config(64))]

    /// BPE trained on arbitrary strings gives every training text back as its words.
    #[test]
    fn bpe_round_trip_on_any_text(texts in proptest::collection::vec(any::<String>(), 1..5), extra in 0..30usize) {
        let chars: BTreeSet<char> = texts.iter().flat_map(|t| split_words(t)).flat_map(str::chars).collect();
        let bpe = Bpe::train(texts.iter().map(String::as_str), chars.len() + 3 + extra, false).unwrap();
        for t in &texts {
            let ids = bpe.encode(t);
            prop_assert!(!ids.contains(&UNK_ID));
            prop_assert_eq!(bpe.decode(&ids), split_words(t).join(" "));
        }
    }

    /// A lower-casing word vocabulary gives every training text back as its lower-cased words.
    #[test]
    fn word_vocab_round_trip_on_any_text(texts in proptest::collection::vec(any::<String>(), 1..5)) {
        let vocab = Vocab::build(texts.iter().map(String::as_str), VocabConfig::words().with_min_freq(1));
        for t in &texts {
            let lower = t.to_lowercase();
            prop_assert_eq!(vocab.decode(&vocab.encode(t)), split_words(&lower).join(" "));
        }
    }

    /// WordPiece encodes any string (unknown pieces as [UNK]) and decodes the result.
    #[test]
    fn wordpiece_accepts_any_text(text in any::<String>()) {
        let ids = BERT.encode(&text, true).unwrap();
        prop_assert!(ids.iter().all(|&i| (i as usize) < BERT.vocab_size()));
        BERT.decode(&ids).unwrap();
    }

    /// BLEU of arbitrary strings stays within its bounds.
    #[test]
    fn bleu_is_bounded_on_any_text(pairs in proptest::collection::vec((any::<String>(), any::<String>()), 1..5)) {
        let hyps: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
        let refs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
        let s = corpus_bleu(&hyps, std::slice::from_ref(&refs));
        prop_assert!((0.0..=100.0 + 1e-9).contains(&s.score) && (0.0..=1.0).contains(&s.bp), "{:?}", s);
        for (h, r) in hyps.iter().zip(&refs) {
            let s = sentence_bleu(h, &[r]);
            prop_assert!((0.0..=100.0 + 1e-9).contains(&s.score), "{:?}", s);
        }
        // Against itself: 100, unless some n-gram order is missing altogether (then 0).
        let itself = corpus_bleu(&hyps, std::slice::from_ref(&hyps));
        prop_assert!((itself.score - 100.0).abs() < 1e-9 || itself.totals.contains(&0), "{:?}", itself);
    }

    /// seqeval on arbitrary tag strings: bounded and symmetric, never a panic.
    #[test]
    fn seqeval_on_any_tags(
        gold in proptest::collection::vec(proptest::collection::vec(any::<String>(), 0..6), 0..4),
        pred_tags in proptest::collection::vec(any::<String>(), 0..24),
    ) {
        // The prediction has the gold's shape.
        let mut next = pred_tags.into_iter().chain(std::iter::repeat(String::from("O")));
        let pred: Vec<Vec<String>> = gold.iter().map(|s| s.iter().map(|_| next.next().unwrap()).collect()).collect();
        let f = entity_report(&gold, &pred);
        let b = entity_report(&pred, &gold);
        prop_assert!([f.micro.precision, f.micro.recall, f.micro.f1].iter().all(|v| (0.0..=1.0).contains(v)));
        prop_assert_eq!(f.micro.precision, b.micro.recall);
        prop_assert_eq!(f.micro.recall, b.micro.precision);
    }
}

/// Found by `seqeval_on_any_tags`: an empty tag panicked (`&""[1..]`); it now reads as `O`.
#[test]
fn an_empty_tag_reads_as_o() {
    let with_empty = entity_report(&[vec!["", "B-PER"]], &[vec!["B-PER", "B-PER"]]);
    let with_o = entity_report(&[vec!["O", "B-PER"]], &[vec!["B-PER", "B-PER"]]);
    assert_eq!(with_empty, with_o);
    assert_eq!(with_empty.micro.precision, 0.5);
    assert_eq!(get_entities(&[vec![""]]), Vec::new());
}
