//! Linear-chain conditional random field (Lafferty, McCallum & Pereira 2001) as the output layer
//! of a sequence tagger (Lample et al. 2016, *Neural Architectures for Named Entity Recognition*).
//!
//! A tag path `y = (y_0, …, y_{n−1})` of a sentence with emission scores `E[t, k]` scores
//!
//! ```text
//! s(y) = start[y_0] + Σ_t E[t, y_t] + Σ_{t≥1} A[y_{t−1}, y_t] + end[y_{n−1}]
//! P(y | x) = exp s(y) / Z,   log Z = log Σ_y' exp s(y')
//! ```
//!
//! `log Z` comes from the forward algorithm in log-space, `α_0 = start + E_0`,
//! `α_t[j] = logsumexp_i(α_{t−1}[i] + A[i, j]) + E_t[j]`, `log Z = logsumexp(α_{n−1} + end)`;
//! the training loss is the negative log-likelihood `log Z − s(y*)`, whose gradient with respect
//! to `E[t, k]` is the model's marginal `P(y_t = k)` minus the one-hot gold tag. Decoding is
//! Viterbi: the same recursion with `max` in place of `logsumexp`, plus back-pointers.
//!
//! Padded batches: sequences are right-padded, `padding[b, t] = true` marks a padded step, and
//! every sequence has at least one real step. At a padded step `α` is carried over unchanged, so
//! the padded part adds nothing to `log Z`, the gold score or the gradients.

use burn::module::Param;
use burn::prelude::*;

/// Configuration of a [`Crf`].
#[derive(Config, Debug)]
pub struct CrfConfig {
    /// Number of tags `K`.
    pub num_tags: usize,
}

impl CrfConfig {
    /// A CRF with all transition scores zero (a uniform prior over paths), as in PyTorch-CRF's
    /// common practice of learning them from scratch; the emissions break the symmetry.
    ///
    /// The scores are made with `Param::from_tensor`, which marks them trainable;
    /// `Param::initialized` (used here before) leaves a plain tensor without gradients, so the
    /// scores stayed 0 and the CRF was a per-token softmax (test
    /// `the_scores_are_trainable_parameters`).
    pub fn init(&self, device: &Device) -> Crf {
        let k = self.num_tags;
        Crf {
            transitions: Param::from_tensor(Tensor::zeros([k, k], device)),
            start: Param::from_tensor(Tensor::zeros([k], device)),
            end: Param::from_tensor(Tensor::zeros([k], device)),
        }
    }
}

/// Linear-chain CRF over `K` tags.
#[derive(Module, Debug)]
pub struct Crf {
    /// `A[i, j]`: score of tag `j` following tag `i`, `[K, K]`.
    pub transitions: Param<Tensor<2>>,
    /// Score of starting with each tag, `[K]`.
    pub start: Param<Tensor<1>>,
    /// Score of ending with each tag, `[K]`.
    pub end: Param<Tensor<1>>,
}

/// `log Σ exp` over `dim` (kept as size 1), shifted by the maximum so it never overflows.
fn logsumexp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    (x - m.clone()).exp().sum_dim(dim).log() + m
}

impl Crf {
    /// A CRF with the given scores (for tests and imported models).
    pub fn from_scores(transitions: Tensor<2>, start: Tensor<1>, end: Tensor<1>) -> Self {
        Self {
            transitions: Param::from_tensor(transitions),
            start: Param::from_tensor(start),
            end: Param::from_tensor(end),
        }
    }

    /// Number of tags `K`.
    pub fn num_tags(&self) -> usize {
        self.start.dims()[0]
    }

    /// `log Z` of every sequence, by the forward algorithm.
    ///
    /// # Shapes
    /// - emissions: `[B, T, K]`
    /// - padding: `[B, T]`, `true` = padded (right padding)
    /// - output: `[B]`
    pub fn log_partition(
        &self,
        emissions: Tensor<3>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<1> {
        let [batch, steps, k] = emissions.dims();
        let trans = self.transitions.val().unsqueeze_dim::<3>(0); // [1, K, K]
        let emit = |t: usize| emissions.clone().slice(s![.., t, ..]).reshape([batch, k]); // [B, K]
        let mut alpha = self.start.val().unsqueeze_dim::<2>(0) + emit(0); // [B, K]
        for t in 1..steps {
            // scores[b, i, j] = α[b, i] + A[i, j]; reduce over i.
            let scores = alpha.clone().unsqueeze_dim::<3>(2) + trans.clone(); // [B, K, K]
            let next = logsumexp(scores, 1).reshape([batch, k]) + emit(t); // [B, K]
            alpha = match &padding {
                Some(p) => {
                    let pad = p.clone().slice(s![.., t]).expand([batch, k]); // [B, 1] → [B, K]
                    next.mask_where(pad, alpha)
                }
                None => next,
            };
        }
        logsumexp(alpha + self.end.val().unsqueeze_dim::<2>(0), 1).reshape([batch])
    }

    /// Score `s(y)` of the given tag paths.
    ///
    /// # Shapes
    /// - emissions: `[B, T, K]`; tags: `[B, T]` (any value at padded steps, within `0..K`)
    /// - padding: `[B, T]`, `true` = padded (right padding)
    /// - output: `[B]`
    pub fn score(
        &self,
        emissions: Tensor<3>,
        tags: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<1> {
        let [batch, steps, k] = emissions.dims();
        let device = emissions.device();
        let real = match &padding {
            Some(p) => p.clone().bool_not().float(), // [B, T], 1 = real step
            None => Tensor::ones([batch, steps], &device),
        };
        // Σ_t E[t, y_t] over real steps.
        let emitted = emissions
            .gather(2, tags.clone().unsqueeze_dim::<3>(2))
            .reshape([batch, steps]); // [B, T]
        let mut total = (emitted * real.clone()).sum_dim(1).reshape([batch]);
        // start[y_0].
        let first = tags.clone().slice(s![.., 0]).reshape([batch]);
        total = total + self.start.val().select(0, first);
        // Σ_{t≥1} A[y_{t−1}, y_t] over real steps t.
        if steps > 1 {
            let prev = tags.clone().slice(s![.., 0..steps - 1]);
            let next = tags.clone().slice(s![.., 1..steps]);
            let flat = (prev * (k as i64) + next).reshape([batch * (steps - 1)]);
            let trans = self
                .transitions
                .val()
                .reshape([k * k])
                .select(0, flat)
                .reshape([batch, steps - 1]);
            let mask = real.clone().slice(s![.., 1..steps]);
            total = total + (trans * mask).sum_dim(1).reshape([batch]);
        }
        // end[y_{n−1}] at each sequence's last real step.
        let last = (real.sum_dim(1).int() - 1).clamp_min(0); // [B, 1]
        let last_tags = tags.gather(1, last).reshape([batch]);
        total + self.end.val().select(0, last_tags)
    }

    /// Negative log-likelihood `log Z − s(y)` of every gold path, `[B]`.
    pub fn nll(
        &self,
        emissions: Tensor<3>,
        tags: Tensor<2, Int>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Tensor<1> {
        self.log_partition(emissions.clone(), padding.clone())
            - self.score(emissions, tags, padding)
    }

    /// The best tag path of every sequence (Viterbi), each as long as its real part.
    ///
    /// Runs on the host: the emissions are read back once, and the `O(T·K²)` recursion is
    /// done in `f32` loops.
    ///
    /// # Shapes
    /// - emissions: `[B, T, K]`; padding: `[B, T]`, `true` = padded (right padding)
    pub fn viterbi(
        &self,
        emissions: Tensor<3>,
        padding: Option<Tensor<2, Bool>>,
    ) -> Vec<Vec<usize>> {
        let [batch, steps, k] = emissions.dims();
        let e: Vec<f32> = emissions.try_into_vec_as::<f32>().unwrap_or_default();
        let a: Vec<f32> = self
            .transitions
            .val()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let start: Vec<f32> = self
            .start
            .val()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let end: Vec<f32> = self.end.val().try_into_vec_as::<f32>().unwrap_or_default();
        let lengths: Vec<usize> = match padding {
            Some(p) => {
                let p: Vec<bool> = p.to_data().iter::<bool>().collect();
                (0..batch)
                    .map(|b| {
                        p[b * steps..(b + 1) * steps]
                            .iter()
                            .filter(|x| !**x)
                            .count()
                    })
                    .collect()
            }
            None => vec![steps; batch],
        };
        let mut paths = Vec::with_capacity(batch);
        for (b, &n) in lengths.iter().enumerate() {
            let emit = |t: usize, j: usize| e[(b * steps + t) * k + j];
            if n == 0 {
                paths.push(Vec::new());
                continue;
            }
            let mut delta: Vec<f32> = (0..k).map(|j| start[j] + emit(0, j)).collect();
            let mut back = vec![vec![0usize; k]; n];
            for (t, back_t) in back.iter_mut().enumerate().take(n).skip(1) {
                let mut next = vec![0f32; k];
                for j in 0..k {
                    let (mut best, mut arg) = (f32::NEG_INFINITY, 0);
                    for (i, d) in delta.iter().enumerate() {
                        let s = d + a[i * k + j];
                        if s > best {
                            best = s;
                            arg = i;
                        }
                    }
                    next[j] = best + emit(t, j);
                    back_t[j] = arg;
                }
                delta = next;
            }
            let (mut tag, mut best) = (0, f32::NEG_INFINITY);
            for j in 0..k {
                if delta[j] + end[j] > best {
                    best = delta[j] + end[j];
                    tag = j;
                }
            }
            let mut path = vec![tag; n];
            for t in (1..n).rev() {
                tag = back[t][tag];
                path[t - 1] = tag;
            }
            paths.push(path);
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::padding_mask;
    use crate::test_util::{device, rng};
    use deepzero_core::gradcheck::{autodiff_gradient, numerical_gradient};
    use rand::Rng;

    const K: usize = 3;
    const T: usize = 4;

    fn random(rng: &mut rand::rngs::StdRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-2.0f32..2.0)).collect()
    }

    fn example() -> (Crf, Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let mut r = rng(7);
        let (a, st, en, e) = (
            random(&mut r, K * K),
            random(&mut r, K),
            random(&mut r, K),
            random(&mut r, T * K),
        );
        let dev = device();
        let crf = Crf::from_scores(
            Tensor::from_data(TensorData::new(a.clone(), [K, K]), &dev),
            Tensor::from_data(TensorData::new(st.clone(), [K]), &dev),
            Tensor::from_data(TensorData::new(en.clone(), [K]), &dev),
        );
        (crf, a, st, en, e)
    }

    /// Every path of length `n` over `K` tags.
    fn all_paths(n: usize) -> Vec<Vec<usize>> {
        (0..K.pow(n as u32))
            .map(|mut code| {
                (0..n)
                    .map(|_| {
                        let tag = code % K;
                        code /= K;
                        tag
                    })
                    .collect()
            })
            .collect()
    }

    fn path_score(a: &[f32], st: &[f32], en: &[f32], e: &[f32], y: &[usize]) -> f64 {
        let mut s = (st[y[0]] + en[y[y.len() - 1]]) as f64;
        for (t, &tag) in y.iter().enumerate() {
            s += e[t * K + tag] as f64;
            if t > 0 {
                s += a[y[t - 1] * K + tag] as f64;
            }
        }
        s
    }

    fn brute_log_z(a: &[f32], st: &[f32], en: &[f32], e: &[f32], n: usize) -> f64 {
        all_paths(n)
            .iter()
            .map(|y| path_score(a, st, en, e, y).exp())
            .sum::<f64>()
            .ln()
    }

    fn emissions(e: &[f32], batch: usize, steps: usize, dev: &Device) -> Tensor<3> {
        Tensor::from_data(TensorData::new(e.to_vec(), [batch, steps, K]), dev)
    }

    /// Every score of the CRF receives a gradient (and an optimiser step moves it).
    #[test]
    fn the_scores_are_trainable_parameters() {
        use burn::optim::{GradientsParams, SgdConfig};
        let dev = device().autodiff();
        let mut crf = CrfConfig::new(K).init(&dev);
        assert_eq!(
            deepzero_core::params::float_params(&crf).len(),
            3,
            "transitions, start, end"
        );
        assert!(crf.transitions.is_require_grad() && crf.start.is_require_grad());
        assert!(crf.end.is_require_grad());
        let e = Tensor::<3>::from_data([[[1.0, 0.0, -1.0], [0.5, 0.2, 0.1]]], &dev);
        let tags = Tensor::<2, Int>::from_data([[2, 0]], &dev);
        let loss = crf.nll(e, tags, None).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &crf);
        let mut sgd = SgdConfig::new().init();
        crf = sgd.step(0.5, crf, grads);
        let moved: f32 = crf.transitions.val().abs().sum().into_scalar();
        assert!(moved > 0.1, "{moved}");
        // The gold transition 2 → 0 is made more likely.
        let t: Vec<f32> = crf.transitions.val().to_data().iter::<f32>().collect();
        assert!(t[2 * K] > 0.0, "{t:?}");
    }

    #[test]
    fn forward_algorithm_equals_brute_force_enumeration() {
        let (crf, a, st, en, e) = example();
        let log_z = crf
            .log_partition(emissions(&e, 1, T, &device()), None)
            .into_scalar::<f32>() as f64;
        let expected = brute_log_z(&a, &st, &en, &e, T);
        assert!((log_z - expected).abs() < 1e-4, "{log_z} vs {expected}");
    }

    #[test]
    fn viterbi_equals_brute_force_argmax_and_score_matches() {
        let (crf, a, st, en, e) = example();
        let paths = all_paths(T);
        let best = paths
            .iter()
            .max_by(|x, y| {
                path_score(&a, &st, &en, &e, x).total_cmp(&path_score(&a, &st, &en, &e, y))
            })
            .unwrap();
        let decoded = crf.viterbi(emissions(&e, 1, T, &device()), None);
        assert_eq!(&decoded[0], best);
        // The tensor score of a path equals the hand-summed one.
        let tags = Tensor::<2, Int>::from_data(
            TensorData::new(best.iter().map(|&v| v as i64).collect::<Vec<_>>(), [1, T]),
            &device(),
        );
        let s = crf
            .score(emissions(&e, 1, T, &device()), tags, None)
            .into_scalar::<f32>() as f64;
        assert!((s - path_score(&a, &st, &en, &e, best)).abs() < 1e-4);
    }

    #[test]
    fn nll_gradient_is_marginals_minus_one_hot() {
        let (crf, a, st, en, e) = example();
        let gold = [2usize, 0, 1, 1];
        let dev = device();
        let tags = Tensor::<2, Int>::from_data(
            TensorData::new(gold.iter().map(|&v| v as i64).collect::<Vec<_>>(), [1, T]),
            &dev,
        );
        let x = emissions(&e, 1, T, &dev);
        let nll = |em: Tensor<3>| {
            let dev = em.device();
            crf.clone()
                .to_device(&dev)
                .nll(em, tags.clone().to_device(&dev), None)
        };
        let auto = autodiff_gradient(nll, &x).unwrap();
        let numeric = numerical_gradient(nll, &x, 1e-2).unwrap();
        // Brute-force marginals P(y_t = k) minus the one-hot gold tags.
        let log_z = brute_log_z(&a, &st, &en, &e, T);
        let mut expected = vec![0f32; T * K];
        for y in all_paths(T) {
            let p = (path_score(&a, &st, &en, &e, &y) - log_z).exp();
            for (t, &tag) in y.iter().enumerate() {
                expected[t * K + tag] += p as f32;
            }
        }
        for (t, &g) in gold.iter().enumerate() {
            expected[t * K + g] -= 1.0;
        }
        let expected = TensorData::new(expected, [1, T, K]);
        let tol = burn::tensor::Tolerance::absolute(1e-4);
        auto.to_data().assert_approx_eq::<f32>(&expected, tol);
        numeric
            .to_data()
            .assert_approx_eq::<f32>(&expected, burn::tensor::Tolerance::absolute(2e-3));
    }

    #[test]
    fn padding_does_not_change_the_real_part() {
        let (crf, a, st, en, e) = example();
        let dev = device();
        // Batch of two: the full sequence, and its first 2 steps followed by 2 padded steps of
        // garbage emissions.
        let mut both = e.clone();
        both.extend(e[..2 * K].iter().copied());
        both.extend([9.0f32; 2 * K]);
        let pad = padding_mask(&[T, 2], T, &dev).unwrap();
        let x = emissions(&both, 2, T, &dev);
        let log_z: Vec<f32> = crf
            .log_partition(x.clone(), Some(pad.clone()))
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((log_z[0] as f64 - brute_log_z(&a, &st, &en, &e, T)).abs() < 1e-4);
        assert!((log_z[1] as f64 - brute_log_z(&a, &st, &en, &e[..2 * K], 2)).abs() < 1e-4);

        let tags = Tensor::<2, Int>::from_data([[0, 1, 2, 0], [1, 2, 0, 0]], &dev);
        let s: Vec<f32> = crf
            .score(x.clone(), tags, Some(pad.clone()))
            .try_into_vec_as::<f32>()
            .unwrap();
        assert!((s[1] as f64 - path_score(&a, &st, &en, &e, &[1, 2])).abs() < 1e-4);
        assert!((s[0] as f64 - path_score(&a, &st, &en, &e, &[0, 1, 2, 0])).abs() < 1e-4);

        let paths = crf.viterbi(x, Some(pad));
        let short = crf.viterbi(emissions(&e[..2 * K], 1, 2, &dev), None);
        assert_eq!(paths[1], short[0]);
        assert_eq!(paths[0], crf.viterbi(emissions(&e, 1, T, &dev), None)[0]);
    }
}
