//! Corpus and sentence BLEU (Papineni et al. 2002) computed exactly as sacreBLEU 2.x does with
//! its default arguments (Post 2018, *A Call for Clarity in Reporting BLEU Scores*).
//!
//! * Tokenisation: sacreBLEU's `13a` tokenizer (`tokenizers/tokenizer_13a.py` and
//!   `tokenizer_re.py`, the tokenisation of WMT's `mteval-v13a.pl`), ported rule by rule:
//!   drop `<skipped>`, join `-\n`, turn newlines into spaces, unescape `&quot; &amp; &lt; &gt;`,
//!   then the four regular expressions
//!   ```text
//!   ([\{-\~\[-\` -\&\(-\+\:-\@\/])  → ' \1 '     punctuation and symbols become tokens
//!   ([^0-9])([\.,])                → '\1 \2 '   period/comma, unless preceded by a digit
//!   ([\.,])([^0-9])                → ' \1 \2'   period/comma, unless followed by a digit
//!   ([0-9])(-)                     → '\1 \2 '   a dash after a digit
//!   ```
//!   and finally one space between tokens. Case is kept (sacreBLEU's default `lowercase=False`).
//! * Statistics per segment: the hypothesis n-grams (n = 1…4) clipped by the largest count of
//!   that n-gram in any reference; the reference length closest to the hypothesis length (the
//!   shorter one on a tie).
//! * Corpus score from the summed statistics:
//!   `BLEU = BP · exp(¼ Σₙ log pₙ)`, `pₙ = 100 · correctₙ / totalₙ`, `BP = 1` if `c ≥ r` else
//!   `exp(1 − r/c)` (`0` for `c = 0`); a score of 0 when no unigram matches at all.
//! * Smoothing `exp` (sacreBLEU's default, NIST's `mteval` method 3): the k-th order with zero
//!   matches gets `pₙ = 100 / (2ᵏ · totalₙ)`. An order with no hypothesis n-gram at all stops
//!   the loop and its precision stays 0 (whose log is floored at `-9 999 999 999`, so the score
//!   is 0), unless effective order is on ([`sentence_bleu`]), which averages the orders seen.
//!
//! Verified against sacreBLEU 2.6.0 on `tests/fixtures/bleu/` (written by
//! `scripts/bleu_fixture.py`; test `tests/bleu_fixture.rs`).

use std::collections::HashMap;

/// Highest n-gram order (sacreBLEU's `MAX_NGRAM_ORDER`).
pub const MAX_ORDER: usize = 4;

/// A BLEU score with its sufficient statistics (the fields of sacreBLEU's `BLEUScore`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BleuScore {
    /// BLEU on the 0–100 scale.
    pub score: f64,
    /// Clipped matching n-grams per order (1…4).
    pub counts: [u64; MAX_ORDER],
    /// Hypothesis n-grams per order.
    pub totals: [u64; MAX_ORDER],
    /// Precisions per order, in percent, after smoothing.
    pub precisions: [f64; MAX_ORDER],
    /// Brevity penalty.
    pub bp: f64,
    /// Hypothesis length in tokens (after 13a tokenisation).
    pub sys_len: u64,
    /// Effective reference length.
    pub ref_len: u64,
}

/// Python's `str.isspace` (what `str.split()` and `str.rstrip()` split on): Unicode
/// `White_Space` plus the four ASCII separators `\x1c`–`\x1f`.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn in_13a_class(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// sacreBLEU's `13a` tokenisation of one segment (after `rstrip`), tokens joined by one space.
///
/// ```
/// use deepzero_sequence::translation::tokenize_13a;
/// assert_eq!(tokenize_13a("A man, 3.5 m tall."), "A man , 3.5 m tall .");
/// assert_eq!(tokenize_13a("T-shirt (blue) 1990-2000!"), "T-shirt ( blue ) 1990 - 2000 !");
/// ```
pub fn tokenize_13a(line: &str) -> String {
    let line = line.trim_end_matches(py_space);
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let chars: Vec<char> = format!(" {line} ").chars().collect();
    // Rule 1: every character of the class becomes ' c '.
    let mut s = Vec::with_capacity(chars.len() * 2);
    for c in chars {
        if in_13a_class(c) {
            s.extend([' ', c, ' ']);
        } else {
            s.push(c);
        }
    }
    // Rules 2–4: two-character patterns, matched left to right without overlap (re.sub).
    let is_digit = |c: char| c.is_ascii_digit();
    let is_pc = |c: char| c == '.' || c == ',';
    let s = sub2(
        &s,
        |a, b| !is_digit(a) && is_pc(b),
        |a, b| vec![a, ' ', b, ' '],
    );
    let s = sub2(
        &s,
        |a, b| is_pc(a) && !is_digit(b),
        |a, b| vec![' ', a, ' ', b],
    );
    let s = sub2(
        &s,
        |a, b| is_digit(a) && b == '-',
        |a, b| vec![a, ' ', b, ' '],
    );
    let s: String = s.into_iter().collect();
    s.split(py_space)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `re.sub` of a two-character pattern: scans left to right, replacing each match and
/// resuming after it.
fn sub2(
    s: &[char],
    matches: impl Fn(char, char) -> bool,
    replace: impl Fn(char, char) -> Vec<char>,
) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len() + 8);
    let mut i = 0;
    while i < s.len() {
        if i + 1 < s.len() && matches(s[i], s[i + 1]) {
            out.extend(replace(s[i], s[i + 1]));
            i += 2;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

type NgramCounts<'a> = HashMap<&'a [&'a str], u64>;

fn ngrams<'a>(tokens: &'a [&'a str]) -> NgramCounts<'a> {
    let mut counts = HashMap::new();
    for n in 1..=MAX_ORDER {
        for w in tokens.windows(n) {
            *counts.entry(w).or_insert(0) += 1;
        }
    }
    counts
}

/// Per-segment statistics: `[sys_len, ref_len, correct₁…₄, total₁…₄]`.
fn segment_stats(hyp: &str, refs: &[&str]) -> [u64; 2 + 2 * MAX_ORDER] {
    let hyp_tok = tokenize_13a(hyp);
    let ref_toks: Vec<String> = refs.iter().map(|r| tokenize_13a(r)).collect();
    let hyp_words: Vec<&str> = hyp_tok.split(' ').filter(|t| !t.is_empty()).collect();
    let ref_words: Vec<Vec<&str>> = ref_toks
        .iter()
        .map(|r| r.split(' ').filter(|t| !t.is_empty()).collect())
        .collect();
    let mut ref_counts: NgramCounts = HashMap::new();
    for words in &ref_words {
        for (g, c) in ngrams(words) {
            let e = ref_counts.entry(g).or_insert(0);
            *e = (*e).max(c);
        }
    }
    // Closest reference length, the shorter on a tie.
    let hyp_len = hyp_words.len() as i64;
    let mut closest: Option<(i64, i64)> = None;
    for words in &ref_words {
        let len = words.len() as i64;
        let diff = (hyp_len - len).abs();
        closest = match closest {
            None => Some((diff, len)),
            Some((d, l)) if diff < d || (diff == d && len < l) => Some((diff, len)),
            keep => keep,
        };
    }
    let mut stats = [0u64; 2 + 2 * MAX_ORDER];
    stats[0] = hyp_len as u64;
    stats[1] = closest.map_or(0, |(_, l)| l as u64);
    for (g, c) in ngrams(&hyp_words) {
        let n = g.len() - 1;
        stats[2 + MAX_ORDER + n] += c;
        if let Some(&r) = ref_counts.get(g) {
            stats[2 + n] += c.min(r);
        }
    }
    stats
}

/// sacreBLEU's `my_log`: `ln x`, with `ln 0` floored at `-9 999 999 999`.
fn my_log(x: f64) -> f64 {
    if x == 0.0 { -9_999_999_999.0 } else { x.ln() }
}

/// sacreBLEU's `BLEU.compute_bleu` with `smooth_method="exp"`.
fn compute(stats: &[u64; 2 + 2 * MAX_ORDER], effective_order: bool) -> BleuScore {
    let (sys_len, ref_len) = (stats[0], stats[1]);
    let mut counts = [0u64; MAX_ORDER];
    let mut totals = [0u64; MAX_ORDER];
    counts.copy_from_slice(&stats[2..2 + MAX_ORDER]);
    totals.copy_from_slice(&stats[2 + MAX_ORDER..]);
    let bp = if sys_len < ref_len {
        if sys_len > 0 {
            (1.0 - ref_len as f64 / sys_len as f64).exp()
        } else {
            0.0
        }
    } else {
        1.0
    };
    let mut precisions = [0.0f64; MAX_ORDER];
    let mut score = BleuScore {
        score: 0.0,
        counts,
        totals,
        precisions,
        bp,
        sys_len,
        ref_len,
    };
    if counts.iter().all(|&c| c == 0) {
        return score;
    }
    let mut smooth = 1.0f64;
    let mut eff_order = MAX_ORDER;
    for n in 0..MAX_ORDER {
        if totals[n] == 0 {
            break;
        }
        if effective_order {
            eff_order = n + 1;
        }
        if counts[n] == 0 {
            smooth *= 2.0;
            precisions[n] = 100.0 / (smooth * totals[n] as f64);
        } else {
            precisions[n] = 100.0 * counts[n] as f64 / totals[n] as f64;
        }
    }
    let mean_log = precisions[..eff_order]
        .iter()
        .map(|&p| my_log(p))
        .sum::<f64>()
        / eff_order as f64;
    score.precisions = precisions;
    score.score = bp * mean_log.exp();
    score
}

/// Corpus BLEU as `sacrebleu.corpus_bleu(hypotheses, references)` computes it: 13a
/// tokenisation, mixed case, `exp` smoothing, no effective order.
///
/// `references` holds one or more reference *streams*, each as long as `hypotheses` (the
/// layout sacreBLEU takes: `[[ref1 of seg1, ref1 of seg2, …], [ref2 of seg1, …]]`).
///
/// # Panics
/// If a reference stream's length differs from the number of hypotheses.
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> BleuScore {
    let mut sums = [0u64; 2 + 2 * MAX_ORDER];
    for stream in references {
        assert_eq!(
            stream.len(),
            hypotheses.len(),
            "a reference stream has {} lines, the hypotheses {}",
            stream.len(),
            hypotheses.len()
        );
    }
    for (i, hyp) in hypotheses.iter().enumerate() {
        let refs: Vec<&str> = references.iter().map(|s| s[i].as_ref()).collect();
        let stats = segment_stats(hyp.as_ref(), &refs);
        for (s, v) in sums.iter_mut().zip(stats) {
            *s += v;
        }
    }
    compute(&sums, false)
}

/// Sentence BLEU as `sacrebleu.sentence_bleu(hypothesis, references)` computes it (`exp`
/// smoothing with effective order: orders the hypothesis is too short for are left out).
pub fn sentence_bleu<R: AsRef<str>>(hypothesis: &str, references: &[R]) -> BleuScore {
    let refs: Vec<&str> = references.iter().map(AsRef::as_ref).collect();
    compute(&segment_stats(hypothesis, &refs), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_13a_rules() {
        assert_eq!(tokenize_13a("Hello, world!"), "Hello , world !");
        assert_eq!(tokenize_13a("It costs $3,000.50."), "It costs $ 3,000.50 .");
        assert_eq!(tokenize_13a("don't stop"), "don't stop");
        assert_eq!(tokenize_13a("a.. b"), "a . . b");
        assert_eq!(tokenize_13a("x &amp; y &lt;z&gt;"), "x & y < z >");
        assert_eq!(tokenize_13a("  spaced \t out \n"), "spaced out");
        assert_eq!(tokenize_13a("pre-<skipped>war"), "pre-war");
        assert_eq!(tokenize_13a(""), "");
    }

    #[test]
    fn perfect_match_is_100_and_disjoint_is_0() {
        let hyp = ["A man rides a bike down the street."];
        let s = corpus_bleu(&hyp, &[hyp.to_vec()]);
        assert!((s.score - 100.0).abs() < 1e-12, "{s:?}");
        assert_eq!(s.bp, 1.0);
        let s = corpus_bleu(&["x y z"], &[vec!["a b c"]]);
        assert_eq!(s.score, 0.0);
        assert_eq!(s.totals, [3, 2, 1, 0]);
    }

    #[test]
    fn hand_computed_with_smoothing_and_brevity_penalty() {
        // hyp "the cat sat" vs ref "the cat sat down": 3/3, 2/2, 1/1 matches, no 4-grams
        // → the loop stops at n = 4, p₄ = 0 → score 0 without effective order.
        let s = corpus_bleu(&["the cat sat"], &[vec!["the cat sat down"]]);
        assert_eq!(s.counts, [3, 2, 1, 0]);
        assert_eq!(s.score, 0.0);
        // Sentence BLEU uses the effective order: exp(mean log 100) · exp(1 − 4/3).
        let s = sentence_bleu("the cat sat", &["the cat sat down"]);
        assert!(
            (s.score - 100.0 * (1.0f64 - 4.0 / 3.0).exp()).abs() < 1e-9,
            "{s:?}"
        );
        // One 2-gram order without a match: p₂ = 100 / (2 · total₂).
        let s = corpus_bleu(&["a b c d e"], &[vec!["a x b y c z d w e"]]);
        assert_eq!(s.counts, [5, 0, 0, 0]);
        let p = [
            100.0,
            100.0 / (2.0 * 4.0),
            100.0 / (4.0 * 3.0),
            100.0 / (8.0 * 2.0),
        ];
        let expected =
            (1.0f64 - 9.0 / 5.0).exp() * (p.iter().map(|x: &f64| x.ln()).sum::<f64>() / 4.0).exp();
        assert!(
            (s.score - expected).abs() < 1e-9,
            "{} vs {expected}",
            s.score
        );
    }

    #[test]
    fn several_references_clip_by_the_largest_count_and_pick_the_closest_length() {
        let s = corpus_bleu(
            &["the the the"],
            &[vec!["the cat"], vec!["the the dog is here"]],
        );
        assert_eq!(s.counts[0], 2);
        // Lengths 2 and 5 against 3: 2 is closer.
        assert_eq!(s.ref_len, 2);
    }
}
