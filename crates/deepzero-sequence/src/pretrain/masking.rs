//! Masked-language-model inputs (Devlin et al. 2019, section 3.1 and appendix A.1; seed
//! chapter 4.3): which positions a BERT-style encoder must restore, and what it sees there.
//!
//! For one sequence, as Google's `create_pretraining_data.py` does it:
//!
//! 1. The *candidates* are every position that is not a special token (`[CLS]`, `[SEP]`,
//!    padding). With whole-word masking the candidates are whole words: the pieces of a word
//!    (Chinese characters of one segmented word) are chosen together.
//! 2. `n = max(1, round(mask_prob · candidates))` tokens are chosen: the candidate units are
//!    shuffled and taken in that order until `n` tokens are covered (a whole word that would
//!    overshoot `n` is skipped, as in Google's code).
//! 3. Each chosen position gets the **80/10/10 rule**: with probability 0.8 its input becomes
//!    `[MASK]`, with 0.1 a token drawn uniformly from the ordinary vocabulary, with 0.1 it is
//!    left as it is. Its *target* is the original token either way; every other position has
//!    no target and adds nothing to the loss.
//!
//! Keeping 10 % of the chosen tokens unchanged and corrupting 10 % forces the model to keep a
//! good representation of *every* input token (it cannot know which ones it will be asked
//! about), and softens the mismatch that `[MASK]` never occurs when fine-tuning.

use rand::Rng;
use rand::seq::SliceRandom;

/// The probabilities of the masking procedure.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MaskingConfig {
    /// Fraction of the candidate tokens chosen as targets (BERT: 0.15).
    pub mask_prob: f64,
    /// Of the chosen tokens, the fraction replaced by `[MASK]` (0.8).
    pub replace_with_mask: f64,
    /// Of the chosen tokens, the fraction replaced by a random token (0.1); the remaining
    /// `1 − replace_with_mask − replace_with_random` keep their token.
    pub replace_with_random: f64,
    /// Choose whole words (given by the caller) rather than single tokens.
    pub whole_word: bool,
}

impl Default for MaskingConfig {
    fn default() -> Self {
        Self {
            mask_prob: 0.15,
            replace_with_mask: 0.8,
            replace_with_random: 0.1,
            whole_word: false,
        }
    }
}

impl MaskingConfig {
    /// Checks that the probabilities are probabilities and that some token is chosen.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.mask_prob > 0.0 && self.mask_prob <= 1.0) {
            return Err(format!(
                "mask_prob must be in (0, 1], got {}",
                self.mask_prob
            ));
        }
        let (m, r) = (self.replace_with_mask, self.replace_with_random);
        if !(0.0..=1.0).contains(&m) || !(0.0..=1.0).contains(&r) || m + r > 1.0 + 1e-12 {
            return Err(format!(
                "replace_with_mask ({m}) and replace_with_random ({r}) must be probabilities summing to at most 1"
            ));
        }
        Ok(())
    }
}

/// The token ids the procedure needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpecialTokens {
    /// The id of `[MASK]`.
    pub mask: usize,
    /// Random replacements are drawn uniformly from `random_range.0 .. random_range.1` (the
    /// ordinary tokens: no padding, no `[CLS]`/`[SEP]`/`[MASK]`).
    pub random_range: (usize, usize),
}

/// One sequence prepared for the masked-language-model loss.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskedSequence {
    /// What the encoder reads.
    pub input: Vec<usize>,
    /// The positions that carry a target, increasing.
    pub positions: Vec<usize>,
    /// The original token at each of `positions`.
    pub targets: Vec<usize>,
}

/// Masks `tokens` as the module docs describe.
///
/// * `maskable[i]`: whether position `i` may be chosen (false for `[CLS]`, `[SEP]`, padding).
/// * `word_of`: with whole-word masking, the word index of each position (positions of one
///   word are chosen together); ignored otherwise (`None`: every token is its own word).
///
/// A sequence without any maskable position comes back unchanged and without targets.
pub fn mask_sequence<R: Rng + ?Sized>(
    tokens: &[usize],
    maskable: &[bool],
    word_of: Option<&[usize]>,
    config: &MaskingConfig,
    special: &SpecialTokens,
    rng: &mut R,
) -> MaskedSequence {
    debug_assert_eq!(tokens.len(), maskable.len());
    // Candidate units: runs of maskable positions of one word (or single positions).
    let mut units: Vec<Vec<usize>> = Vec::new();
    for i in (0..tokens.len()).filter(|&i| maskable[i]) {
        let same_word = match (config.whole_word, word_of, units.last()) {
            (true, Some(words), Some(unit)) => {
                let last = *unit.last().unwrap_or(&i);
                last + 1 == i && words[last] == words[i]
            }
            _ => false,
        };
        match units.last_mut() {
            Some(unit) if same_word => unit.push(i),
            _ => units.push(vec![i]),
        }
    }
    let candidates: usize = units.iter().map(Vec::len).sum();
    if candidates == 0 {
        return MaskedSequence {
            input: tokens.to_vec(),
            positions: Vec::new(),
            targets: Vec::new(),
        };
    }
    let wanted = ((candidates as f64 * config.mask_prob).round() as usize).clamp(1, candidates);
    units.shuffle(rng);
    let mut positions = Vec::with_capacity(wanted);
    for unit in &units {
        if positions.len() >= wanted {
            break;
        }
        if positions.len() + unit.len() > wanted {
            continue; // a whole word that would overshoot: skipped (Google's rule)
        }
        positions.extend_from_slice(unit);
    }
    if positions.is_empty() {
        // Every word is longer than the budget: take the first (shuffled) one whole.
        positions.extend_from_slice(&units[0]);
    }
    positions.sort_unstable();

    let mut input = tokens.to_vec();
    let (lo, hi) = special.random_range;
    for &p in &positions {
        let r: f64 = rng.random();
        if r < config.replace_with_mask {
            input[p] = special.mask;
        } else if r < config.replace_with_mask + config.replace_with_random && lo < hi {
            input[p] = rng.random_range(lo..hi);
        }
    }
    let targets = positions.iter().map(|&p| tokens[p]).collect();
    MaskedSequence {
        input,
        positions,
        targets,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;

    const MASK: usize = 99;
    const SPECIAL: SpecialTokens = SpecialTokens {
        mask: MASK,
        random_range: (2, 50),
    };

    fn config(mask: f64, random: f64) -> MaskingConfig {
        MaskingConfig {
            mask_prob: 1.0,
            replace_with_mask: mask,
            replace_with_random: random,
            whole_word: false,
        }
    }

    /// `[CLS] 10 11 12 13 [SEP] pad`: positions 1..=4 maskable.
    fn sequence() -> (Vec<usize>, Vec<bool>) {
        (
            vec![97, 10, 11, 12, 13, 98, 0],
            vec![false, true, true, true, true, false, false],
        )
    }

    #[test]
    fn choosing_everything_gives_exact_results_for_each_branch_of_the_rule() {
        let (tokens, maskable) = sequence();
        let mut rng = StdRng::seed_from_u64(1);
        // Always [MASK].
        let m = mask_sequence(
            &tokens,
            &maskable,
            None,
            &config(1.0, 0.0),
            &SPECIAL,
            &mut rng,
        );
        assert_eq!(m.input, [97, MASK, MASK, MASK, MASK, 98, 0]);
        assert_eq!(m.positions, [1, 2, 3, 4]);
        assert_eq!(m.targets, [10, 11, 12, 13]);
        // Always kept: the input is untouched but every candidate still has its target.
        let k = mask_sequence(
            &tokens,
            &maskable,
            None,
            &config(0.0, 0.0),
            &SPECIAL,
            &mut rng,
        );
        assert_eq!(k.input, tokens);
        assert_eq!(k.targets, [10, 11, 12, 13]);
        // Always random: ordinary tokens only, specials untouched.
        let r = mask_sequence(
            &tokens,
            &maskable,
            None,
            &config(0.0, 1.0),
            &SPECIAL,
            &mut rng,
        );
        assert_eq!((r.input[0], r.input[5], r.input[6]), (97, 98, 0));
        assert!(r.input[1..5].iter().all(|t| (2..50).contains(t)), "{r:?}");
    }

    #[test]
    fn the_number_chosen_is_round_of_15_percent_at_least_one() {
        let mut rng = StdRng::seed_from_u64(7);
        for (n, expected) in [(1, 1), (3, 1), (10, 2), (20, 3), (100, 15), (126, 19)] {
            let tokens: Vec<usize> = (0..n).map(|i| 10 + i % 30).collect();
            let m = mask_sequence(
                &tokens,
                &vec![true; n],
                None,
                &MaskingConfig::default(),
                &SPECIAL,
                &mut rng,
            );
            assert_eq!(m.positions.len(), expected, "length {n}");
            assert!(m.positions.windows(2).all(|w| w[0] < w[1]));
        }
        // Nothing maskable: nothing chosen.
        let m = mask_sequence(
            &[97, 98],
            &[false, false],
            None,
            &MaskingConfig::default(),
            &SPECIAL,
            &mut rng,
        );
        assert!(m.positions.is_empty());
        assert_eq!(m.input, [97, 98]);
    }

    /// Over 200 000 chosen tokens the 80/10/10 split is within 4 standard deviations of its
    /// expectation (σ = √(n p (1−p)), about 180 tokens for the [MASK] share), and the random
    /// replacements are uniform over the ordinary tokens.
    #[test]
    fn the_80_10_10_rule_holds_statistically() {
        let mut rng = StdRng::seed_from_u64(2024);
        let n = 200;
        let tokens: Vec<usize> = (0..n).map(|i| 2 + i % 48).collect();
        let maskable = vec![true; n];
        let (mut chosen, mut masked, mut replaced, mut kept) = (0usize, 0usize, 0usize, 0usize);
        let mut random_counts = [0usize; 50];
        for _ in 0..6_667 {
            let m = mask_sequence(
                &tokens,
                &maskable,
                None,
                &MaskingConfig::default(),
                &SPECIAL,
                &mut rng,
            );
            assert_eq!(m.positions.len(), 30);
            for (&p, &t) in m.positions.iter().zip(&m.targets) {
                assert_eq!(t, tokens[p]);
                chosen += 1;
                if m.input[p] == MASK {
                    masked += 1;
                } else if m.input[p] == t {
                    kept += 1; // a random draw that hit the original also lands here
                } else {
                    replaced += 1;
                    random_counts[m.input[p]] += 1;
                }
            }
            // Positions without a target are never changed.
            for i in (0..n).filter(|i| !m.positions.contains(i)) {
                assert_eq!(m.input[i], tokens[i]);
            }
        }
        let within = |count: usize, p: f64| {
            let mean = chosen as f64 * p;
            let sd = (chosen as f64 * p * (1.0 - p)).sqrt();
            (count as f64 - mean).abs() < 4.0 * sd
        };
        // A random replacement equals the original with probability 1/48.
        let p_random_differs = 0.1 * 47.0 / 48.0;
        assert!(within(masked, 0.8), "[MASK] {masked} of {chosen}");
        assert!(
            within(replaced, p_random_differs),
            "random {replaced} of {chosen}"
        );
        assert!(
            within(kept, 1.0 - 0.8 - p_random_differs),
            "kept {kept} of {chosen}"
        );
        // Uniform over 2..50: each of the 48 ids about replaced/48 times.
        let per_id = replaced as f64 / 48.0;
        for (id, &c) in random_counts.iter().enumerate().skip(2) {
            assert!(
                (c as f64 - per_id).abs() < 5.0 * per_id.sqrt(),
                "id {id}: {c}"
            );
        }
        assert_eq!(random_counts[0] + random_counts[1], 0);
    }

    #[test]
    fn whole_words_are_chosen_together() {
        // 13 words of three tokens; 15 % of 39 = 6 tokens = two whole words.
        let tokens: Vec<usize> = (0..39).map(|i| 10 + i).collect();
        let word_of: Vec<usize> = (0..39).map(|i| i / 3).collect();
        let config = MaskingConfig {
            whole_word: true,
            ..MaskingConfig::default()
        };
        for seed in 0..50 {
            let mut rng = StdRng::seed_from_u64(seed);
            let m = mask_sequence(
                &tokens,
                &[true; 39],
                Some(&word_of),
                &config,
                &SPECIAL,
                &mut rng,
            );
            assert_eq!(m.positions.len(), 6, "two whole words");
            for &p in &m.positions {
                let word = word_of[p];
                let members = (0..39).filter(|&i| word_of[i] == word);
                assert!(members.into_iter().all(|i| m.positions.contains(&i)));
            }
        }
    }

    #[test]
    fn a_seed_fixes_the_result_and_another_seed_changes_it() {
        let tokens: Vec<usize> = (0..64).map(|i| 2 + i % 40).collect();
        let maskable = vec![true; 64];
        let run = |seed| {
            mask_sequence(
                &tokens,
                &maskable,
                None,
                &MaskingConfig::default(),
                &SPECIAL,
                &mut StdRng::seed_from_u64(seed),
            )
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3).positions, run(4).positions);
    }

    #[test]
    fn bad_probabilities_are_refused() {
        let mut c = MaskingConfig::default();
        assert!(c.validate().is_ok());
        c.mask_prob = 0.0;
        assert!(c.validate().unwrap_err().contains("mask_prob"));
        c.mask_prob = 0.15;
        c.replace_with_random = 0.3;
        assert!(c.validate().unwrap_err().contains("summing"));
    }
}
