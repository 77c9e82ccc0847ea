//! Caption metrics. BLEU-4 is sacreBLEU's ([`deepzero_sequence::translation::bleu`]);
//! CIDEr-D is here, as the COCO caption evaluation computes it.
//!
//! ## CIDEr-D (Vedantam et al. 2015; coco-caption `pycocoevalcap/cider/cider_scorer.py`)
//! For n = 1..4, a caption is a vector of n-gram tf-idf weights `tf(g) · (ln N − ln max(1, df(g)))`,
//! where `N` is the number of evaluated images and `df(g)` the number of images whose
//! references contain `g`. Per image and reference, the n-gram similarity is
//! `Σ_g min(h_g, r_g) · r_g / (‖h‖ ‖r‖)` (the hypothesis weights are *clipped* by the
//! reference's: repeating a word does not pay), times the length penalty
//! `exp(−δ² / (2σ²))`, σ = 6. The image's score is 10 × the mean over n and over its references;
//! the corpus score is the mean over images.
//!
//! One quirk is kept on purpose, so that figures compare with published ones: the reference
//! implementation's "length" `δ` is counted in **bigrams** (words − 1), not words.
//! Tokens are split on whitespace (COCO first runs the PTB tokenizer; our captions are already
//! lower-case with punctuation separated). The fixture `tests/fixtures/cider_d.json` comes from
//! `pycocoevalcap` 1.2 (`tests/fixtures/cider_d.py`).

use std::collections::HashMap;

/// n-gram orders of CIDEr-D.
const ORDERS: usize = 4;
/// σ of the length penalty.
const SIGMA: f64 = 6.0;

/// CIDEr-D of a corpus.
#[derive(Clone, Debug, PartialEq)]
pub struct CiderScore {
    /// Mean over images.
    pub score: f64,
    /// Per image.
    pub per_caption: Vec<f64>,
}

type Counts = HashMap<Vec<String>, f64>;
/// Per n-gram order, the tf-idf weight of each n-gram.
type Weights<'a> = [HashMap<&'a [String], f64>; ORDERS];

fn ngram_counts(text: &str) -> Counts {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut counts = Counts::new();
    for n in 1..=ORDERS {
        for window in words.windows(n) {
            *counts
                .entry(window.iter().map(|w| w.to_string()).collect())
                .or_insert(0.0) += 1.0;
        }
    }
    counts
}

/// Per order: the tf-idf vector, its norm; and the caption's "length" (its bigram count).
fn tfidf<'a>(
    counts: &'a Counts,
    df: &HashMap<Vec<String>, f64>,
    log_n: f64,
) -> (Weights<'a>, [f64; ORDERS], f64) {
    let mut vec: Weights = Default::default();
    let mut norm = [0.0; ORDERS];
    let mut length = 0.0;
    for (gram, &tf) in counts {
        let n = gram.len() - 1;
        let idf = log_n - df.get(gram).copied().unwrap_or(0.0).max(1.0).ln();
        let w = tf * idf;
        vec[n].insert(gram.as_slice(), w);
        norm[n] += w * w;
        if n == 1 {
            length += tf;
        }
    }
    (vec, norm.map(f64::sqrt), length)
}

/// CIDEr-D of `hypotheses[i]` against `references[i]` (one or more captions per image).
///
/// An image without references scores 0.
///
/// # Panics
/// Never; mismatched lengths are cut to the shorter list.
pub fn cider_d<H: AsRef<str>, R: AsRef<str>>(
    hypotheses: &[H],
    references: &[Vec<R>],
) -> CiderScore {
    let count = hypotheses.len().min(references.len());
    let hyps: Vec<Counts> = hypotheses[..count]
        .iter()
        .map(|h| ngram_counts(h.as_ref()))
        .collect();
    let refs: Vec<Vec<Counts>> = references[..count]
        .iter()
        .map(|rs| rs.iter().map(|r| ngram_counts(r.as_ref())).collect())
        .collect();
    // Document frequency: in how many images' reference sets an n-gram occurs.
    let mut df: HashMap<Vec<String>, f64> = HashMap::new();
    for image in &refs {
        let mut seen: Vec<&Vec<String>> = image.iter().flat_map(|r| r.keys()).collect();
        seen.sort();
        seen.dedup();
        for gram in seen {
            *df.entry(gram.clone()).or_insert(0.0) += 1.0;
        }
    }
    let log_n = (count.max(1) as f64).ln();
    let per_caption: Vec<f64> = hyps
        .iter()
        .zip(&refs)
        .map(|(hyp, image_refs)| {
            if image_refs.is_empty() {
                return 0.0;
            }
            let (hv, hn, hl) = tfidf(hyp, &df, log_n);
            let mut total = 0.0;
            for reference in image_refs {
                let (rv, rn, rl) = tfidf(reference, &df, log_n);
                let delta = hl - rl;
                let penalty = (-(delta * delta) / (2.0 * SIGMA * SIGMA)).exp();
                for n in 0..ORDERS {
                    let mut val: f64 = hv[n]
                        .iter()
                        .map(|(gram, &h)| {
                            let r = rv[n].get(gram).copied().unwrap_or(0.0);
                            h.min(r) * r
                        })
                        .sum();
                    if hn[n] != 0.0 && rn[n] != 0.0 {
                        val /= hn[n] * rn[n];
                    }
                    total += val * penalty;
                }
            }
            total / ORDERS as f64 / image_refs.len() as f64 * 10.0
        })
        .collect();
    let score = per_caption.iter().sum::<f64>() / per_caption.len().max(1) as f64;
    CiderScore { score, per_caption }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cider_d_matches_pycocoevalcap() {
        let fixture: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/cider_d.json")).unwrap();
        let hyps: Vec<String> = serde_json::from_value(fixture["hypotheses"].clone()).unwrap();
        let refs: Vec<Vec<String>> = serde_json::from_value(fixture["references"].clone()).unwrap();
        let expected: Vec<f64> = serde_json::from_value(fixture["per_caption"].clone()).unwrap();
        let got = cider_d(&hyps, &refs);
        for (g, e) in got.per_caption.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-9, "{g} vs {e}");
        }
        assert!((got.score - fixture["cider_d"].as_f64().unwrap()).abs() < 1e-9);
    }

    #[test]
    fn repeating_words_does_not_pay_and_no_references_score_zero() {
        let refs = vec![vec!["a b c d"], vec!["e f g h"], vec!["i j k l"]];
        let once = cider_d(&["a b c d", "e f g h", "i j k l"], &refs).score;
        let twice = cider_d(&["a a b c d", "e f g h", "i j k l"], &refs).score;
        assert!(twice < once);
        let none: Vec<Vec<&str>> = vec![vec![]];
        assert_eq!(cider_d(&["a"], &none).per_caption, vec![0.0]);
    }
}
