//! Choosing the next token from a language model's logits: greedy, temperature, top-k and
//! top-p (nucleus) sampling (the `generate` loop of nanoGPT's `model.py`: `logits / temperature`,
//! keep the `k` largest, softmax, draw one; top-p as Holtzman et al. 2020 and Hugging Face's
//! `TopPLogitsWarper`).
//!
//! ```text
//! p_i = exp(z_i / τ) / Σ_{j ∈ top-k} exp(z_j / τ)      for i in the k largest logits, 0 elsewhere
//! top-p: sort p descending, keep the shortest prefix whose mass reaches p (token i is kept when
//!        the mass of the tokens before it is < p; the most likely token is always kept), renormalise
//! ```
//!
//! Top-k is applied first, then top-p on the distribution that is left, as in `transformers`.
//!
//! `τ → 0` concentrates all the mass on the arg-max, so `temperature = 0` is defined as greedy
//! decoding (test `tiny_temperature_tends_to_argmax`); `τ = 1` with no top-k samples the model's
//! own distribution; `τ > 1` flattens it. Sampling is on the host, in `f64`, from a seeded
//! [`StdRng`], so a seed reproduces a generation exactly.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::error::SequenceError;

/// How the next token is chosen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// Softmax temperature `τ ≥ 0`; `0` means greedy (arg-max).
    pub temperature: f64,
    /// Keep only the `k` most likely tokens (`None`: all of them).
    pub top_k: Option<usize>,
    /// Keep only the smallest set of most likely tokens whose probability reaches `p`
    /// (`None` or `1`: all of them).
    pub top_p: Option<f64>,
}

impl Sampling {
    /// Greedy decoding: always the arg-max.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
        }
    }

    /// Temperature sampling, optionally restricted to the top `k`.
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] for a negative or non-finite temperature, or `k = 0`.
    pub fn new(temperature: f64, top_k: Option<usize>) -> crate::Result<Self> {
        if !(temperature.is_finite() && temperature >= 0.0) {
            return Err(SequenceError::InvalidArgument(format!(
                "the temperature must be a number ≥ 0, not {temperature}"
            )));
        }
        if top_k == Some(0) {
            return Err(SequenceError::InvalidArgument(
                "top-k must be at least 1".into(),
            ));
        }
        Ok(Self {
            temperature,
            top_k,
            top_p: None,
        })
    }

    /// The same sampling restricted to the nucleus of mass `top_p` (`None`: no restriction).
    ///
    /// # Errors
    /// [`SequenceError::InvalidArgument`] unless `0 < top_p ≤ 1`.
    pub fn with_top_p(self, top_p: Option<f64>) -> crate::Result<Self> {
        if let Some(p) = top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(SequenceError::InvalidArgument(format!(
                "top-p must be in (0, 1], not {p}"
            )));
        }
        Ok(Self { top_p, ..self })
    }

    /// The distribution the next token is drawn from: `softmax(z / τ)` over the `k` largest
    /// logits, exactly 0 elsewhere (ties at the `k`-th place are broken by the lower id, so
    /// exactly `min(k, V)` entries are non-zero), then cut to the top-`p` nucleus and
    /// renormalised. With `τ = 0`: 1 on the arg-max.
    pub fn probabilities(&self, logits: &[f32]) -> Vec<f64> {
        let mut probs = vec![0.0; logits.len()];
        if logits.is_empty() {
            return probs;
        }
        let kept = self.kept(logits);
        if self.temperature == 0.0 {
            probs[kept[0]] = 1.0;
            return probs;
        }
        let max = logits[kept[0]] as f64;
        let mut total = 0.0;
        for &i in &kept {
            let p = ((logits[i] as f64 - max) / self.temperature).exp();
            probs[i] = p;
            total += p;
        }
        for &i in &kept {
            probs[i] /= total;
        }
        if let Some(top_p) = self.top_p {
            // `kept` is sorted most likely first: keep tokens while the mass before them < p.
            let mut before = 0.0;
            let mut nucleus = 0.0;
            for &i in &kept {
                if before < top_p {
                    before += probs[i];
                    nucleus += probs[i];
                } else {
                    probs[i] = 0.0;
                }
            }
            for &i in &kept {
                probs[i] /= nucleus;
            }
        }
        probs
    }

    /// The candidate ids, most likely first (ties: lower id first), cut to the top `k`.
    fn kept(&self, logits: &[f32]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let k = match (self.temperature == 0.0, self.top_k) {
            (true, _) => 1,
            (false, Some(k)) => k.min(order.len()),
            (false, None) => order.len(),
        };
        order.truncate(k);
        order
    }

    /// Draws the next token id from [`Sampling::probabilities`].
    pub fn sample(&self, logits: &[f32], rng: &mut StdRng) -> usize {
        let probs = self.probabilities(logits);
        let u: f64 = rng.random_range(0.0..1.0);
        let mut cumulative = 0.0;
        let mut last = 0;
        for (i, &p) in probs.iter().enumerate() {
            if p > 0.0 {
                cumulative += p;
                last = i;
                if u < cumulative {
                    return i;
                }
            }
        }
        last // rounding left u just above the total
    }
}

/// The RNG of a generation: [`StdRng`] seeded with `seed`.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGITS: [f32; 6] = [1.0, 3.0, -2.0, 2.5, 3.0, 0.0];

    #[test]
    fn rejects_bad_settings() {
        assert!(Sampling::new(-0.5, None).is_err());
        assert!(Sampling::new(f64::NAN, None).is_err());
        assert!(Sampling::new(1.0, Some(0)).is_err());
        assert!(Sampling::new(0.0, Some(3)).is_ok());
    }

    #[test]
    fn probabilities_sum_to_one_and_equal_softmax() {
        let s = Sampling::new(1.0, None).unwrap();
        let p = s.probabilities(&LOGITS);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let z: f64 = LOGITS.iter().map(|&l| (l as f64).exp()).sum();
        for (pi, &l) in p.iter().zip(&LOGITS) {
            assert!((pi - (l as f64).exp() / z).abs() < 1e-12);
        }
        // Temperature 2 equals the softmax of z / 2.
        let p2 = Sampling::new(2.0, None).unwrap().probabilities(&LOGITS);
        let z2: f64 = LOGITS.iter().map(|&l| (l as f64 / 2.0).exp()).sum();
        assert!((p2[1] - (1.5f64).exp() / z2).abs() < 1e-12);
    }

    #[test]
    fn top_k_keeps_exactly_k_candidates() {
        for k in 1..=LOGITS.len() + 2 {
            let p = Sampling::new(0.8, Some(k)).unwrap().probabilities(&LOGITS);
            let kept = p.iter().filter(|&&x| x > 0.0).count();
            assert_eq!(kept, k.min(LOGITS.len()), "k = {k}");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // k = 2 with a tie at the top (ids 1 and 4 are both 3.0): exactly those two, equal.
        let p = Sampling::new(1.0, Some(2)).unwrap().probabilities(&LOGITS);
        assert_eq!(p[1], 0.5);
        assert_eq!(p[4], 0.5);
        // k = 3 keeps 2.5 next; the tie rule never keeps more than k.
        let p = Sampling::new(1.0, Some(3)).unwrap().probabilities(&LOGITS);
        assert!(p[3] > 0.0 && p[0] == 0.0);
        // The samples only ever come from the kept set.
        let mut r = rng(7);
        let s = Sampling::new(5.0, Some(2)).unwrap();
        for _ in 0..500 {
            let i = s.sample(&LOGITS, &mut r);
            assert!(i == 1 || i == 4, "{i}");
        }
    }

    #[test]
    fn top_p_keeps_the_smallest_nucleus() {
        // softmax of [ln 5, ln 3, ln 1, ln 1] = [0.5, 0.3, 0.1, 0.1].
        let logits = [5f32.ln(), 3f32.ln(), 0.0, 0.0];
        let p = |top_p| {
            Sampling::new(1.0, None)
                .unwrap()
                .with_top_p(Some(top_p))
                .unwrap()
                .probabilities(&logits)
        };
        // p = 0.5: the first token alone reaches it.
        assert_eq!(p(0.5), vec![1.0, 0.0, 0.0, 0.0]);
        // p = 0.6: 0.5 < 0.6, so the second token joins; 0.8 ≥ 0.6 stops there.
        let two = p(0.6);
        assert!((two[0] - 0.625).abs() < 1e-6 && (two[1] - 0.375).abs() < 1e-6);
        assert_eq!(&two[2..], &[0.0, 0.0]);
        // p = 0.85: three tokens (mass before the fourth is 0.9 ≥ 0.85).
        let three = p(0.85);
        assert!(three[3] == 0.0 && (three[2] - 0.1 / 0.9).abs() < 1e-6);
        // p = 1: everything, equal to plain sampling; tiny p: greedy.
        let all = p(1.0);
        assert!((all[3] - 0.1).abs() < 1e-6);
        assert_eq!(p(1e-9), vec![1.0, 0.0, 0.0, 0.0]);
        // Top-k first, then top-p on what is left: k = 2 → [0.625, 0.375]; p = 0.6 keeps one.
        let kp = Sampling::new(1.0, Some(2))
            .unwrap()
            .with_top_p(Some(0.6))
            .unwrap()
            .probabilities(&logits);
        assert_eq!(kp, vec![1.0, 0.0, 0.0, 0.0]);
        for bad in [0.0, -0.1, 1.5, f64::NAN] {
            assert!(Sampling::greedy().with_top_p(Some(bad)).is_err(), "{bad}");
        }
        // Samples only come from the nucleus.
        let s = Sampling::new(1.0, None)
            .unwrap()
            .with_top_p(Some(0.6))
            .unwrap();
        let mut r = rng(5);
        let draws: Vec<usize> = (0..400).map(|_| s.sample(&logits, &mut r)).collect();
        assert!(draws.iter().all(|&i| i < 2));
        assert!(draws.contains(&0) && draws.contains(&1));
    }

    #[test]
    fn tiny_temperature_tends_to_argmax() {
        let logits = [0.3f32, 1.7, 1.6, -4.0];
        let greedy = Sampling::greedy().probabilities(&logits);
        assert_eq!(greedy, vec![0.0, 1.0, 0.0, 0.0]);
        let cold = Sampling::new(1e-3, None).unwrap().probabilities(&logits);
        assert!(cold[1] > 1.0 - 1e-12, "{cold:?}");
        let mut r = rng(1);
        for _ in 0..50 {
            assert_eq!(Sampling::greedy().sample(&logits, &mut r), 1);
        }
    }

    #[test]
    fn sampling_is_seeded_and_follows_the_distribution() {
        let s = Sampling::new(1.0, None).unwrap();
        let draw = |seed| {
            let mut r = rng(seed);
            (0..20)
                .map(|_| s.sample(&LOGITS, &mut r))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        assert_ne!(draw(3), draw(4));
        // Empirical frequencies within 0.02 of the probabilities over 20 000 draws.
        let p = s.probabilities(&LOGITS);
        let mut counts = [0usize; 6];
        let mut r = rng(11);
        let n = 20_000;
        for _ in 0..n {
            counts[s.sample(&LOGITS, &mut r)] += 1;
        }
        for (c, pi) in counts.iter().zip(&p) {
            assert!(
                (*c as f64 / n as f64 - pi).abs() < 0.02,
                "{counts:?} vs {p:?}"
            );
        }
    }
}
