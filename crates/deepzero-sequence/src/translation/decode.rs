//! Decoding a trained encoder–decoder: greedy search and beam search.
//!
//! Both encode the source once and then run the decoder on the whole prefix at every step (no
//! key/value cache: the sentences of Multi30k are short, and the causal mask makes the last
//! position's logits exactly those of incremental decoding).
//!
//! * [`greedy_decode`]: `yₜ = argmax p(· | y_<t, x)` until `<eos>` or the length limit.
//! * [`beam_search`]: keeps the `k` best prefixes by total log-probability; at each step every
//!   live prefix proposes its `k + 1` most probable next tokens, the `k · (k + 1)` candidates are
//!   ranked by total log-probability, candidates ending in `<eos>` among the first `k` become
//!   finished hypotheses, and the best `k` others stay live. A sentence stops when it has `k`
//!   finished hypotheses and no live prefix can still beat the best of them, or when it
//!   reaches its length limit (live prefixes are then finished as they are). The winner maximises the length-normalised score of GNMT (Wu et al. 2016, eq. 14):
//!   `s(Y) = log P(Y | X) / lp(Y)`, `lp(Y) = ((5 + |Y|) / 6)^α` (`|Y|` counts `<eos>`;
//!   `α = 0`: plain log-probability). With `k = 1` and `α = 0` this is greedy search (test
//!   `beam_of_one_is_greedy`).
//! * Length limit of a sentence with `n` source tokens: `min(max_len, ⌊a·n⌋ + b)` generated
//!   tokens, `<eos>` included ([`BeamConfig`]).
//!
//! The search itself ([`beam_search_with`]) only needs "log-probabilities of the next token
//! for these prefixes", so it is tested on a hand-made distribution where greedy search is
//! provably worse (test `beam_search_beats_greedy_on_a_constructed_case`).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

use crate::Transformer;

/// Settings of [`beam_search`] and [`greedy_decode`].
#[derive(Config, Debug)]
pub struct BeamConfig {
    /// Beams kept per sentence (`1`: greedy).
    #[config(default = 4)]
    pub beam_size: usize,
    /// GNMT length-penalty exponent `α` (0: none; 0.6 in Wu et al. 2016).
    #[config(default = 0.6)]
    pub length_penalty: f64,
    /// Slope `a` of the per-sentence length limit `⌊a·n⌋ + b`.
    #[config(default = 1.5)]
    pub max_len_a: f64,
    /// Offset `b` of the per-sentence length limit.
    #[config(default = 10)]
    pub max_len_b: usize,
    /// Absolute limit on generated tokens (`<eos>` included); keep it below the model's
    /// `max_len` (positions).
    #[config(default = 128)]
    pub max_len: usize,
}

impl BeamConfig {
    /// The length limit for a source of `src_len` tokens.
    pub fn limit(&self, src_len: usize) -> usize {
        ((self.max_len_a * src_len as f64).floor() as usize + self.max_len_b)
            .min(self.max_len)
            .max(1)
    }

    /// GNMT's `lp(Y) = ((5 + len) / 6)^α`.
    pub fn penalty(&self, len: usize) -> f64 {
        ((5.0 + len as f64) / 6.0).powf(self.length_penalty)
    }
}

/// One decoded sequence.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Generated token ids, without `<bos>` and without the final `<eos>`.
    pub tokens: Vec<usize>,
    /// Total log-probability, the `<eos>` step included when it was generated.
    pub log_prob: f64,
    /// True when the sequence ended with `<eos>` (false: cut at the length limit).
    pub finished: bool,
    /// `log_prob / lp(len)`, the score the beam ranks by.
    pub score: f64,
}

/// The model's log-probabilities of the next token after each prefix.
///
/// # Shapes
/// - memory: `[B, T_s, d]`, src_padding: `[B, T_s]`, sentence: `[R]` (row → sentence index)
/// - prefixes: `R` prefixes of equal length, `<bos>` first
/// - output: `[R, V]`
fn next_log_probs(
    model: &Transformer,
    memory: &Tensor<3>,
    src_padding: &Tensor<2, Bool>,
    sentence: &[usize],
    prefixes: &[Vec<usize>],
) -> Tensor<2> {
    let device = memory.device();
    let rows = prefixes.len();
    let len = prefixes[0].len();
    let idx: Vec<i64> = sentence.iter().map(|&s| s as i64).collect();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [rows]), &device);
    let mem = memory.clone().select(0, idx.clone()); // [R, T_s, d]
    let pad = src_padding.clone().int().select(0, idx).bool(); // [R, T_s]
    let flat: Vec<i64> = prefixes.iter().flatten().map(|&t| t as i64).collect();
    let tgt = Tensor::<2, Int>::from_data(TensorData::new(flat, [rows, len]), &device);
    let logits = model.decode(tgt, mem, Some(pad), None); // [R, len, V]
    let [_, _, vocab] = logits.dims();
    let last = logits.slice(s![.., len - 1.., ..]).reshape([rows, vocab]); // [R, V]
    log_softmax(last, 1)
}

/// Greedy decoding of a batch of sources.
///
/// # Shapes
/// - src: `[B, T_s]` ids, src_padding: `[B, T_s]` (`true` = padded), src_lens: `B` lengths
///   (for the length limits)
pub fn greedy_decode(
    model: &Transformer,
    src: Tensor<2, Int>,
    src_padding: Tensor<2, Bool>,
    src_lens: &[usize],
    bos: usize,
    eos: usize,
    config: &BeamConfig,
) -> Vec<Hypothesis> {
    let batch = src_lens.len();
    let memory = model.encode(src, Some(src_padding.clone()));
    let limits: Vec<usize> = src_lens.iter().map(|&n| config.limit(n)).collect();
    let longest = limits.iter().copied().max().unwrap_or(1);
    let mut prefixes: Vec<Vec<usize>> = vec![vec![bos]; batch];
    let mut hyps: Vec<Hypothesis> = (0..batch)
        .map(|_| Hypothesis {
            tokens: Vec::new(),
            log_prob: 0.0,
            finished: false,
            score: 0.0,
        })
        .collect();
    let mut done = vec![false; batch];
    let rows: Vec<usize> = (0..batch).collect();
    for step in 0..longest {
        if done.iter().all(|&d| d) {
            break;
        }
        let log_probs = next_log_probs(model, &memory, &src_padding, &rows, &prefixes);
        let (best, best_idx) = log_probs.max_dim_with_indices(1);
        let best: Vec<f32> = best
            .try_into_vec_as::<f32>()
            .expect("f32 log-probabilities");
        let best_idx: Vec<i64> = best_idx.try_into_vec_as::<i64>().expect("i64 token ids");
        for b in 0..batch {
            let token = best_idx[b] as usize;
            prefixes[b].push(token);
            if done[b] {
                continue;
            }
            hyps[b].log_prob += best[b] as f64;
            if token == eos {
                hyps[b].finished = true;
                done[b] = true;
            } else {
                hyps[b].tokens.push(token);
                if step + 1 >= limits[b] {
                    done[b] = true;
                }
            }
        }
    }
    for h in &mut hyps {
        let len = h.tokens.len() + h.finished as usize;
        h.score = h.log_prob / config.penalty(len);
    }
    hyps
}

/// Beam search over any next-token distribution: `log_probs(sentences, prefixes)` returns,
/// for each row, the log-probabilities of every next token after `prefixes[row]` (which
/// starts with `<bos>`) for source sentence `sentences[row]`.
///
/// `limits[b]` is the length limit of sentence `b`. Returns the best hypothesis of each
/// sentence (see the module docs for the algorithm).
pub fn beam_search_with(
    mut log_probs: impl FnMut(&[usize], &[Vec<usize>]) -> Vec<Vec<f32>>,
    limits: &[usize],
    bos: usize,
    eos: usize,
    config: &BeamConfig,
) -> Vec<Hypothesis> {
    let k = config.beam_size.max(1);
    let batch = limits.len();
    // Live beams per sentence: (prefix with <bos>, total log-prob).
    let mut live: Vec<Vec<(Vec<usize>, f64)>> = vec![vec![(vec![bos], 0.0)]; batch];
    let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
    let make = |prefix: &[usize], log_prob: f64, done: bool| {
        let tokens = prefix[1..].to_vec();
        let len = tokens.len() + done as usize;
        Hypothesis {
            tokens,
            log_prob,
            finished: done,
            score: log_prob / config.penalty(len),
        }
    };
    let mut step = 0;
    loop {
        let active: Vec<usize> = (0..batch).filter(|&b| !live[b].is_empty()).collect();
        if active.is_empty() {
            break;
        }
        let mut rows_sentence = Vec::new();
        let mut rows_prefix = Vec::new();
        for &b in &active {
            for (prefix, _) in &live[b] {
                rows_sentence.push(b);
                rows_prefix.push(prefix.clone());
            }
        }
        let scores = log_probs(&rows_sentence, &rows_prefix);
        let mut row = 0;
        for &b in &active {
            let beams = std::mem::take(&mut live[b]);
            // Each beam's k + 1 best next tokens.
            let mut candidates: Vec<(f64, usize, usize)> = Vec::new(); // (total, beam, token)
            for (i, (_, lp)) in beams.iter().enumerate() {
                let dist = &scores[row];
                row += 1;
                let mut order: Vec<usize> = (0..dist.len()).collect();
                let take = (k + 1).min(order.len());
                order.select_nth_unstable_by(take - 1, |&x, &y| dist[y].total_cmp(&dist[x]));
                for &t in &order[..take] {
                    candidates.push((lp + dist[t] as f64, i, t));
                }
            }
            // Highest total first; ties: lower beam, then lower token id.
            candidates.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
            let at_limit = step + 1 >= limits[b];
            let mut next = Vec::with_capacity(k);
            for (rank, &(total, i, t)) in candidates.iter().enumerate() {
                if next.len() == k {
                    break;
                }
                let mut prefix = beams[i].0.clone();
                if t == eos {
                    if rank < k {
                        finished[b].push(make(&prefix, total, true));
                    }
                    continue;
                }
                prefix.push(t);
                next.push((prefix, total));
            }
            // Done when k hypotheses are finished and no live prefix can still beat the best
            // of them: a continuation's log-probability can only fall, and the length
            // penalty grows at most to lp(limit), so `log P / lp(limit)` bounds its score.
            let best_finished = finished[b]
                .iter()
                .map(|h| h.score)
                .fold(f64::NEG_INFINITY, f64::max);
            let best_live = next
                .iter()
                .map(|(_, lp)| lp / config.penalty(limits[b]))
                .fold(f64::NEG_INFINITY, f64::max);
            if finished[b].len() >= k && best_finished >= best_live {
                continue;
            }
            if at_limit {
                for (prefix, total) in next {
                    finished[b].push(make(&prefix, total, false));
                }
                continue;
            }
            live[b] = next;
        }
        step += 1;
    }
    finished
        .into_iter()
        .map(|hyps| {
            hyps.into_iter()
                .max_by(|x, y| {
                    x.score
                        .total_cmp(&y.score)
                        .then(y.tokens.len().cmp(&x.tokens.len()))
                })
                .expect("every sentence ends with at least one hypothesis")
        })
        .collect()
}

/// Beam search with a trained [`Transformer`] on a batch of sources.
///
/// # Shapes
/// - src: `[B, T_s]` ids, src_padding: `[B, T_s]` (`true` = padded), src_lens: `B` lengths
pub fn beam_search(
    model: &Transformer,
    src: Tensor<2, Int>,
    src_padding: Tensor<2, Bool>,
    src_lens: &[usize],
    bos: usize,
    eos: usize,
    config: &BeamConfig,
) -> Vec<Hypothesis> {
    let memory = model.encode(src, Some(src_padding.clone()));
    let limits: Vec<usize> = src_lens.iter().map(|&n| config.limit(n)).collect();
    beam_search_with(
        |sentences, prefixes| {
            let lp = next_log_probs(model, &memory, &src_padding, sentences, prefixes);
            let [rows, vocab] = lp.dims();
            let flat: Vec<f32> = lp.try_into_vec_as::<f32>().expect("f32 log-probabilities");
            (0..rows)
                .map(|r| flat[r * vocab..(r + 1) * vocab].to_vec())
                .collect()
        },
        &limits,
        bos,
        eos,
        config,
    )
}

/// Teacher-forced log-probability of `tokens` followed by `<eos>` (when `with_eos`) given
/// one source: what the decoders above add up, recomputed in one pass.
pub fn sequence_log_prob(
    model: &Transformer,
    src: Tensor<2, Int>,
    tokens: &[usize],
    bos: usize,
    eos: usize,
    with_eos: bool,
) -> f64 {
    let device = src.device();
    let mut input = vec![bos];
    input.extend_from_slice(tokens);
    let mut gold = tokens.to_vec();
    if with_eos {
        gold.push(eos);
    } else {
        input.pop();
    }
    if gold.is_empty() {
        return 0.0;
    }
    let n = input.len();
    let ids: Vec<i64> = input.iter().map(|&t| t as i64).collect();
    let tgt = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &device);
    let logits = model.forward(src, tgt, None, None); // [1, n, V]
    let [_, _, vocab] = logits.dims();
    let lp = log_softmax(logits.reshape([n, vocab]), 1);
    let gold: Vec<i64> = gold.iter().map(|&t| t as i64).collect();
    let gold = Tensor::<2, Int>::from_data(TensorData::new(gold, [n, 1]), &device);
    lp.gather(1, gold).sum().into_scalar::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::padding_mask;
    use crate::test_util::*;
    use crate::transformer::{PositionalKind, TransformerConfig, TransformerLayerConfig};
    use rand::Rng;

    const BOS: usize = 1;
    const EOS: usize = 2;

    fn tiny(device: &Device, seed: u64) -> Transformer {
        device.seed(seed);
        TransformerConfig::new(
            12,
            12,
            TransformerLayerConfig::new(16, 2, 32).with_dropout(0.0),
        )
        .with_n_encoder_layers(1)
        .with_n_decoder_layers(1)
        .with_max_len(64)
        .with_positional(PositionalKind::Sinusoidal)
        .init(device)
        .unwrap()
    }

    fn sources(
        rows: &[Vec<usize>],
        device: &Device,
    ) -> (Tensor<2, Int>, Tensor<2, Bool>, Vec<usize>) {
        let t = rows.iter().map(Vec::len).max().unwrap();
        let mut flat = vec![0i64; rows.len() * t];
        for (b, r) in rows.iter().enumerate() {
            for (i, &x) in r.iter().enumerate() {
                flat[b * t + i] = x as i64;
            }
        }
        let lens: Vec<usize> = rows.iter().map(Vec::len).collect();
        (
            Tensor::from_data(TensorData::new(flat, [rows.len(), t]), device),
            padding_mask(&lens, t, device).unwrap(),
            lens,
        )
    }

    fn random_sources(seed: u64, n: usize) -> Vec<Vec<usize>> {
        let mut r = rng(seed);
        (0..n)
            .map(|_| {
                let len = r.random_range(2..7);
                (0..len).map(|_| r.random_range(3..12)).collect()
            })
            .collect()
    }

    #[test]
    fn beam_of_one_is_greedy() {
        let dev = device();
        let config = BeamConfig::new().with_length_penalty(0.0).with_beam_size(1);
        for seed in 0..4 {
            let model = tiny(&dev, 300 + seed);
            let rows = random_sources(400 + seed, 5);
            let (src, pad, lens) = sources(&rows, &dev);
            let greedy = greedy_decode(&model, src.clone(), pad.clone(), &lens, BOS, EOS, &config);
            let beam = beam_search(&model, src, pad, &lens, BOS, EOS, &config);
            for (g, b) in greedy.iter().zip(&beam) {
                assert_eq!(g.tokens, b.tokens, "seed {seed}");
                assert_eq!(g.finished, b.finished);
                assert!((g.log_prob - b.log_prob).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn reported_log_probs_are_the_models_and_beam_beats_greedy_on_average() {
        let dev = device();
        let greedy_cfg = BeamConfig::new().with_length_penalty(0.0).with_beam_size(1);
        let beam_cfg = BeamConfig::new().with_length_penalty(0.0).with_beam_size(4);
        let (mut compared, mut better, mut worse, mut sum_gain) = (0, 0, 0, 0.0);
        for seed in 0..8 {
            let model = tiny(&dev, 500 + seed);
            let rows = random_sources(600 + seed, 12);
            let (src, pad, lens) = sources(&rows, &dev);
            let greedy = greedy_decode(
                &model,
                src.clone(),
                pad.clone(),
                &lens,
                BOS,
                EOS,
                &greedy_cfg,
            );
            let beam = beam_search(&model, src, pad, &lens, BOS, EOS, &beam_cfg);
            for ((g, b), row) in greedy.iter().zip(&beam).zip(&rows) {
                let (one, _, _) = sources(std::slice::from_ref(row), &dev);
                for h in [g, b] {
                    let again =
                        sequence_log_prob(&model, one.clone(), &h.tokens, BOS, EOS, h.finished);
                    assert!(
                        (again - h.log_prob).abs() < 1e-3,
                        "{again} vs {}",
                        h.log_prob
                    );
                }
                // Compare finished hypotheses (a cut one has no <eos> term).
                if g.finished && b.finished {
                    compared += 1;
                    better += (b.log_prob > g.log_prob + 1e-4) as usize;
                    worse += (b.log_prob < g.log_prob - 1e-4) as usize;
                    sum_gain += b.log_prob - g.log_prob;
                }
            }
        }
        // Beam search is not exact: it can prune the greedy path for prefixes that looked
        // better and ended worse (seen here on an untrained model), but on average it finds
        // more probable sequences, and more often better than worse ones.
        assert!(compared >= 10, "{compared}");
        assert!(
            better > worse && sum_gain > 0.0,
            "better {better}, worse {worse}, gain {sum_gain}"
        );
    }

    /// Two steps, vocabulary {0: a, 1: b, 2: <eos>}, <bos> = 3. Greedy takes `a` (0.5) and then
    /// must choose among 0.4/0.3/0.3; `b` (0.4) is followed by `<eos>` with 0.9.
    #[test]
    fn beam_search_beats_greedy_on_a_constructed_case() {
        let (a, b, eos, bos) = (0, 1, 2, 3);
        let dist = |prefix: &[usize]| -> Vec<f32> {
            let p: [f32; 4] = match prefix {
                [_] => [0.5, 0.4, 0.1, 0.0],
                [_, x] if *x == a => [0.3, 0.3, 0.4, 0.0],
                [_, x] if *x == b => [0.05, 0.05, 0.9, 0.0],
                _ => [0.0, 0.0, 1.0, 0.0],
            };
            p.iter().map(|x| x.ln()).collect()
        };
        let run = |k: usize| {
            let config = BeamConfig::new().with_length_penalty(0.0).with_beam_size(k);
            beam_search_with(
                |_, prefixes| prefixes.iter().map(|p| dist(p)).collect(),
                &[5],
                bos,
                eos,
                &config,
            )
            .remove(0)
        };
        let greedy = run(1);
        assert_eq!(greedy.tokens, vec![a]);
        assert!((greedy.log_prob - (0.5f64 * 0.4).ln()).abs() < 1e-6);
        let beam = run(2);
        assert_eq!(beam.tokens, vec![b]);
        assert!((beam.log_prob - (0.4f64 * 0.9).ln()).abs() < 1e-6);
        assert!(beam.log_prob > greedy.log_prob);
    }

    #[test]
    fn length_limit_and_penalty() {
        let config = BeamConfig::new()
            .with_max_len_a(1.0)
            .with_max_len_b(2)
            .with_max_len(5);
        assert_eq!(config.limit(1), 3);
        assert_eq!(config.limit(10), 5);
        assert!((config.penalty(1) - 1.0f64.powf(0.6)).abs() < 1e-12);
        // A distribution that never ends stops at the limit, unfinished.
        let never =
            |_: &[usize], p: &[Vec<usize>]| p.iter().map(|_| vec![0.0f32, -1.0, -9.0]).collect();
        let h = beam_search_with(never, &[3], 1, 2, &config.clone().with_beam_size(2)).remove(0);
        assert_eq!(h.tokens, vec![0, 0, 0]);
        assert!(!h.finished);
    }
    /// End to end: the Supervised step (label-smoothed loss over length-varying padded
    /// batches) teaches a small model to reverse sequences, and both decoders then output
    /// the exact reversal.
    #[test]
    fn learns_to_reverse_and_decodes_exactly() {
        use crate::translation::data::{BOS_ID, EOS_ID, TranslationBatch};
        use burn::optim::{AdamConfig, GradientsParams};
        use deepzero_train::Supervised;

        let dev = device().autodiff();
        dev.seed(700);
        let mut model = TransformerConfig::new(
            14,
            14,
            TransformerLayerConfig::new(32, 4, 64).with_dropout(0.0),
        )
        .with_n_encoder_layers(2)
        .with_n_decoder_layers(2)
        .with_max_len(16)
        .init(&dev)
        .unwrap();
        let mut optim = AdamConfig::new().init();
        let mut r = rng(701);
        let sample = |r: &mut rand::rngs::StdRng, n: usize| -> Vec<(Vec<usize>, Vec<usize>)> {
            (0..n)
                .map(|_| {
                    let len = r.random_range(2..6);
                    let src: Vec<usize> = (0..len).map(|_| r.random_range(5..14)).collect();
                    let tgt = src.iter().rev().copied().collect();
                    (src, tgt)
                })
                .collect()
        };
        for step in 0..1000 {
            let pairs = sample(&mut r, 32);
            let refs: Vec<(&[usize], &[usize])> = pairs
                .iter()
                .map(|(s, t)| (s.as_slice(), t.as_slice()))
                .collect();
            let out = model.step(TranslationBatch::new(&refs, 0.1, &dev));
            let grads = GradientsParams::from_grads(out.loss.backward(), &model);
            let lr = if step < 700 { 3e-3 } else { 5e-4 };
            model = optim.step(lr, model, grads);
        }
        let model = model.valid();
        let infer = device();
        let pairs = sample(&mut r, 20);
        let rows: Vec<Vec<usize>> = pairs.iter().map(|p| p.0.clone()).collect();
        let (src, pad, lens) = sources(&rows, &infer);
        let config = BeamConfig::new().with_beam_size(3);
        let greedy = greedy_decode(
            &model,
            src.clone(),
            pad.clone(),
            &lens,
            BOS_ID,
            EOS_ID,
            &config,
        );
        let beam = beam_search(&model, src, pad, &lens, BOS_ID, EOS_ID, &config);
        for ((g, b), (_, want)) in greedy.iter().zip(&beam).zip(&pairs) {
            assert_eq!(&g.tokens, want, "greedy");
            assert_eq!(&b.tokens, want, "beam");
            assert!(g.finished && b.finished);
        }
    }
}
