//! Token classification on a [`BertEncoder`] (Devlin et al. 2019, §5.3: NER as one tag per
//! token), optionally with a linear-chain CRF on top (the BERT-CRF of Souza et al. 2019;
//! [`Crf`] of `tagging/crf.rs`, the output layer of the BiLSTM-CRF).
//!
//! ```text
//! [CLS] x₁ … xₙ [SEP] ──► BertEncoder ──► h₁ … hₙ (the [CLS]/[SEP] vectors dropped)
//!                     ──► dropout ──► Linear(d, K) ──► emissions e₁ … eₙ  [B, T, K]
//! no CRF:   loss = mean over the real tokens of −log softmax(eₜ)[yₜ]; tags = argmax per token
//! CRF:      loss = Σ_sentences (log Z − s(y)) / real tokens;     tags = Viterbi
//! ```
//!
//! Both losses are per real token, so padding (and how many sentences share a batch) never
//! changes them, and `evaluate`'s token-weighted mean is the corpus loss per token.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};

use super::model::{BertConfig, BertEncoder};
use super::task::Specials;
use crate::tagging::crf::{Crf, CrfConfig};
use crate::text::PAD_ID;

/// A [`BertEncoder`] with a tag head and, optionally, a CRF.
#[derive(Module, Debug)]
pub struct BertTokenClassifier {
    /// The (pre-trained) encoder.
    pub bert: BertEncoder,
    /// Dropout on the token vectors.
    pub dropout: Dropout,
    /// Token vector → tag scores (the emissions), `[d → K]`.
    pub head: Linear,
    /// The linear-chain CRF over the emissions (`None`: independent per-token softmax).
    pub crf: Option<Crf>,
}

impl BertTokenClassifier {
    /// A new head of `num_tags` outputs (and a CRF when `crf`) on `bert`.
    pub fn new(
        bert: BertEncoder,
        num_tags: usize,
        crf: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let d = bert.token_embedding.weight.lazy_shape().dims::<2>()[1];
        Self {
            bert,
            dropout: DropoutConfig::new(dropout).init(),
            head: LinearConfig::new(d, num_tags).init(device),
            crf: crf.then(|| CrfConfig::new(num_tags).init(device)),
        }
    }

    /// A randomly initialised encoder of `config` with a new head (the from-scratch baseline).
    ///
    /// # Errors
    /// As [`BertConfig::init`].
    pub fn init(
        config: &BertConfig,
        num_tags: usize,
        crf: bool,
        device: &Device,
    ) -> crate::Result<Self> {
        Ok(Self::new(
            config.init(device)?,
            num_tags,
            crf,
            config.dropout,
            device,
        ))
    }

    /// Tag scores of the tokens between `[CLS]` and `[SEP]`.
    ///
    /// # Shapes
    /// - tokens: `[B, T + 2]` ids (`[CLS] x [SEP]`, right-padded), padding: `[B, T + 2]`
    ///   (`true` = padded)
    /// - output: `[B, T, K]`; for a sentence of `n < T` tokens, rows `n..T` (its `[SEP]` and
    ///   padding) are meaningless and masked by [`TokenBatch::tag_padding`]
    pub fn emissions(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<3> {
        let hidden = self.bert.forward(tokens, padding); // [B, T + 2, d]
        let steps = hidden.dims()[1];
        let inner = hidden.slice(s![.., 1..steps - 1, ..]); // [B, T, d]: [CLS], last [SEP] dropped
        self.head.forward(self.dropout.forward(inner)) // [B, T, K]
    }

    /// Per-token loss, with the emissions and gold tags of the real tokens (the loop's
    /// "accuracy" is then the emissions' per-token accuracy, with or without the CRF).
    pub fn loss(&self, batch: TokenBatch) -> ClassificationStep {
        let emissions = self.emissions(batch.tokens, batch.padding); // [B, T, K]
        let [b, t, k] = emissions.dims();
        let logits = emissions
            .clone()
            .reshape([b * t, k])
            .select(0, batch.real.clone()); // [N, K]
        let targets = batch.tags.clone().reshape([b * t]).select(0, batch.real); // [N]
        match &self.crf {
            None => ClassificationStep::from_logits(logits, targets),
            Some(crf) => {
                let n = targets.dims()[0].max(1);
                let nll = crf.nll(emissions, batch.tags, Some(batch.tag_padding)); // [B]
                ClassificationStep {
                    loss: nll.sum() / n as f32,
                    logits,
                    targets,
                }
            }
        }
    }

    /// The tags of every sentence, each as long as the sentence: Viterbi with a CRF, else the
    /// most probable tag of each token.
    pub fn decode(&self, batch: &TokenBatch) -> Vec<Vec<usize>> {
        let emissions = self.emissions(batch.tokens.clone(), batch.padding.clone());
        match &self.crf {
            Some(crf) => crf.viterbi(emissions, Some(batch.tag_padding.clone())),
            None => {
                let [_, t, _] = emissions.dims();
                let best: Vec<i64> = emissions.argmax(2).into_data().iter::<i64>().collect();
                batch
                    .lengths
                    .iter()
                    .enumerate()
                    .map(|(b, &n)| best[b * t..b * t + n].iter().map(|&k| k as usize).collect())
                    .collect()
            }
        }
    }
}

impl Supervised for BertTokenClassifier {
    type Batch = TokenBatch;

    fn step(&self, batch: TokenBatch) -> ClassificationStep {
        self.loss(batch)
    }
}

/// A batch of tagged sentences, each read as `[CLS] x₁ … xₙ [SEP]`, right-padded.
#[derive(Clone, Debug)]
pub struct TokenBatch {
    /// Encoder input `[B, T + 2]` (`<pad>` after each sentence's `[SEP]`).
    pub tokens: Tensor<2, Int>,
    /// `[B, T + 2]`, `true` = padded (the encoder's key mask).
    pub padding: Tensor<2, Bool>,
    /// Gold tag ids of the tokens `[B, T]` (0 where there is no token).
    pub tags: Tensor<2, Int>,
    /// `[B, T]`, `true` where there is no token (the CRF's mask).
    pub tag_padding: Tensor<2, Bool>,
    /// Flat indices `b·T + t` of the real tokens, `[N]`.
    pub real: Tensor<1, Int>,
    /// Tokens of each sentence.
    pub lengths: Vec<usize>,
}

impl TokenBatch {
    /// Pads `(token ids, tag ids)` sentences (each at least one token; tags may be empty when
    /// only decoding) into a batch, wrapping each in `specials`' `[CLS]` and `[SEP]`.
    pub fn new(items: &[(Vec<usize>, Vec<usize>)], specials: &Specials, device: &Device) -> Self {
        let batch = items.len();
        let steps = items.iter().map(|i| i.0.len()).max().unwrap_or(1).max(1);
        let width = steps + 2;
        let mut tokens = vec![PAD_ID as i64; batch * width];
        let mut padding = vec![true; batch * width];
        let mut tags = vec![0i64; batch * steps];
        let mut tag_padding = vec![true; batch * steps];
        let mut real = Vec::new();
        for (b, (ids, tag_ids)) in items.iter().enumerate() {
            let row = &mut tokens[b * width..(b + 1) * width];
            row[0] = specials.cls as i64;
            for (t, &id) in ids.iter().enumerate() {
                row[t + 1] = id as i64;
            }
            row[ids.len() + 1] = specials.sep as i64;
            padding[b * width..b * width + ids.len() + 2].fill(false);
            for t in 0..ids.len() {
                let i = b * steps + t;
                tags[i] = tag_ids.get(t).copied().unwrap_or(0) as i64;
                tag_padding[i] = false;
                real.push(i as i64);
            }
        }
        let n = real.len();
        Self {
            tokens: Tensor::from_data(TensorData::new(tokens, [batch, width]), device),
            padding: Tensor::from_data(TensorData::new(padding, [batch, width]), device),
            tags: Tensor::from_data(TensorData::new(tags, [batch, steps]), device),
            tag_padding: Tensor::from_data(TensorData::new(tag_padding, [batch, steps]), device),
            real: Tensor::from_data(TensorData::new(real, [n]), device),
            lengths: items.iter().map(|i| i.0.len()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::optim::{AdamConfig, GradientsParams};
    use burn::tensor::Tolerance;

    use super::*;
    use crate::tagging::entity_report;

    const VOCAB: usize = 10; // ids 2..10 ordinary; the specials follow
    const TAGS: usize = 3;

    fn specials() -> Specials {
        Specials::after(VOCAB)
    }

    fn tiny(crf: bool, device: &Device) -> BertTokenClassifier {
        let config = BertConfig::new(specials().total())
            .with_d_model(16)
            .with_n_heads(2)
            .with_d_ff(32)
            .with_n_layers(1)
            .with_max_len(12)
            .with_dropout(0.0);
        BertTokenClassifier::init(&config, TAGS, crf, device).unwrap()
    }

    fn items() -> Vec<(Vec<usize>, Vec<usize>)> {
        vec![
            (vec![2, 3, 4, 5], vec![0, 1, 2, 0]),
            (vec![6, 7], vec![1, 0]),
        ]
    }

    fn loss(model: &BertTokenClassifier, items: &[(Vec<usize>, Vec<usize>)]) -> f32 {
        let batch = TokenBatch::new(items, &specials(), &Device::flex());
        model.loss(batch).loss.into_scalar::<f32>()
    }

    #[test]
    fn batches_wrap_sentences_and_emissions_have_one_row_per_token() {
        let device = Device::flex();
        let s = specials();
        let batch = TokenBatch::new(&items(), &s, &device);
        let ids: Vec<i64> = batch.tokens.clone().into_data().iter::<i64>().collect();
        let (cls, sep) = (s.cls as i64, s.sep as i64);
        assert_eq!(ids, [cls, 2, 3, 4, 5, sep, cls, 6, 7, sep, 0, 0]);
        let pad: Vec<bool> = batch
            .tag_padding
            .clone()
            .into_data()
            .iter::<bool>()
            .collect();
        assert_eq!(pad, [false, false, false, false, false, false, true, true]);
        let real: Vec<i64> = batch.real.clone().into_data().iter::<i64>().collect();
        assert_eq!(real, [0, 1, 2, 3, 4, 5]);
        assert_eq!(batch.lengths, [4, 2]);
        let model = tiny(true, &device);
        let e = model.emissions(batch.tokens.clone(), batch.padding.clone());
        assert_eq!(e.dims(), [2, 4, TAGS]);
        let step = model.loss(batch.clone());
        assert_eq!(step.logits.dims(), [6, TAGS]);
        let paths = model.decode(&batch);
        assert_eq!(paths.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2]);
        let plain = tiny(false, &device).decode(&batch);
        assert_eq!(plain.iter().map(Vec::len).collect::<Vec<_>>(), [4, 2]);
    }

    /// The loss of a batch is the token-weighted mean of its sentences' losses taken alone:
    /// padding, and what stands at padded positions, change nothing.
    #[test]
    fn padding_does_not_change_the_loss() {
        let device = Device::flex();
        for crf in [false, true] {
            let model = tiny(crf, &device);
            let all = items();
            let together = loss(&model, &all);
            let alone: Vec<f32> = all
                .iter()
                .map(|i| loss(&model, std::slice::from_ref(i)))
                .collect();
            let expected = (4.0 * alone[0] + 2.0 * alone[1]) / 6.0;
            assert!(
                (together - expected).abs() < 1e-5,
                "crf {crf}: {together} vs {expected}"
            );
            // Garbage ids and tags at the padded positions of the second sentence.
            let mut batch = TokenBatch::new(&all, &specials(), &device);
            batch.tokens = Tensor::from_data([[10, 2, 3, 4, 5, 11], [10, 6, 7, 11, 9, 8]], &device);
            batch.tags = Tensor::from_data([[0, 1, 2, 0], [1, 0, 2, 2]], &device);
            let garbage = model.loss(batch).loss.into_scalar::<f32>();
            assert!((garbage - together).abs() < 1e-6, "{garbage} vs {together}");
        }
    }

    /// With a CRF the loss is the CRF's negative log-likelihood of the gold paths, summed
    /// and divided by the number of real tokens.
    #[test]
    fn the_crf_loss_is_the_crf_nll_of_the_emissions() {
        let device = Device::flex();
        let mut model = tiny(true, &device);
        let crf = Crf::from_scores(
            Tensor::from_data(
                [[0.5, -1.0, 0.2], [0.3, 0.1, -0.7], [1.1, 0.0, 0.4]],
                &device,
            ),
            Tensor::from_data([0.2, -0.3, 0.1], &device),
            Tensor::from_data([-0.1, 0.4, 0.0], &device),
        );
        model.crf = Some(crf.clone());
        let batch = TokenBatch::new(&items(), &specials(), &device);
        let e = model.emissions(batch.tokens.clone(), batch.padding.clone());
        let nll = crf.nll(e, batch.tags.clone(), Some(batch.tag_padding.clone()));
        let expected = nll.sum().into_scalar::<f32>() / 6.0;
        let got = model.loss(batch).loss.into_scalar::<f32>();
        assert!((got - expected).abs() < 1e-5, "{got} vs {expected}");
    }

    /// Without a CRF the loss is the cross-entropy of the real tokens only.
    #[test]
    fn the_plain_loss_is_the_cross_entropy_of_the_real_tokens() {
        let device = Device::flex();
        let model = tiny(false, &device);
        let batch = TokenBatch::new(&items(), &specials(), &device);
        let e = model.emissions(batch.tokens.clone(), batch.padding.clone());
        let rows: Vec<f32> = e.into_data().iter::<f32>().collect();
        let gold = [
            (0, 0, 0),
            (0, 1, 1),
            (0, 2, 2),
            (0, 3, 0),
            (1, 0, 1),
            (1, 1, 0),
        ];
        let mut total = 0.0f64;
        for (b, t, y) in gold {
            let z = &rows[(b * 4 + t) * TAGS..(b * 4 + t + 1) * TAGS];
            let log_z = z.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
            total += log_z - z[y] as f64;
        }
        let got = model.loss(batch).loss.into_scalar::<f32>() as f64;
        assert!((got - total / 6.0).abs() < 1e-5, "{got} vs {}", total / 6.0);
    }

    /// A tiny model learns a toy tagging set to entity F1 1.0, with and without the CRF:
    /// token 3 starts an entity of type A that a following 4 continues; token 5 is an entity B
    /// only after a 2.
    #[test]
    fn a_tiny_model_overfits_a_toy_tagging_set() {
        let names = ["O", "B-A", "I-A", "B-B"];
        let rule = |s: &[usize]| -> Vec<usize> {
            let mut tags = vec![0; s.len()];
            for i in 0..s.len() {
                if s[i] == 3 {
                    tags[i] = 1;
                } else if s[i] == 4 && i > 0 && s[i - 1] == 3 {
                    tags[i] = 2;
                } else if s[i] == 5 && i > 0 && s[i - 1] == 2 {
                    tags[i] = 3;
                }
            }
            tags
        };
        let sentences: Vec<Vec<usize>> = vec![
            vec![2, 5, 3, 4, 6],
            vec![3, 4, 5, 2, 5],
            vec![6, 3, 7, 4, 2, 5, 3],
            vec![5, 2, 4, 3, 4],
            vec![7, 7, 3],
            vec![2, 5, 5, 6, 3, 4, 4],
        ];
        let items: Vec<_> = sentences.iter().map(|s| (s.clone(), rule(s))).collect();
        let gold: Vec<Vec<String>> = items
            .iter()
            .map(|(_, t)| t.iter().map(|&k| names[k].to_string()).collect())
            .collect();
        for crf in [false, true] {
            let device = Device::flex().autodiff();
            device.seed(3);
            let mut model = BertTokenClassifier::init(
                &BertConfig::new(specials().total())
                    .with_d_model(16)
                    .with_n_heads(2)
                    .with_d_ff(32)
                    .with_n_layers(1)
                    .with_max_len(12)
                    .with_dropout(0.0),
                names.len(),
                crf,
                &device,
            )
            .unwrap();
            let batch = TokenBatch::new(&items, &specials(), &device);
            let mut optim = AdamConfig::new().init();
            for _ in 0..150 {
                let loss = model.loss(batch.clone()).loss;
                let grads = GradientsParams::from_grads(loss.backward(), &model);
                model = optim.step(1e-2, model, grads);
            }
            let eval = model.valid();
            if let Some(crf) = &eval.crf {
                // The CRF trained along (its scores start at 0).
                let moved: f32 = crf.transitions.val().abs().max().into_scalar();
                assert!(moved > 1e-3, "{moved}");
            }
            let paths = eval.decode(&TokenBatch::new(&items, &specials(), &Device::flex()));
            let predicted: Vec<Vec<String>> = paths
                .iter()
                .map(|p| p.iter().map(|&k| names[k].to_string()).collect())
                .collect();
            let report = entity_report(&gold, &predicted);
            assert_eq!(report.micro.f1, 1.0, "crf {crf}: {predicted:?}");
            assert_eq!(report.micro.support, 11);
        }
    }

    /// The CRF is part of the module: its scores are saved and loaded with the rest.
    #[test]
    fn the_crf_travels_with_the_record() {
        let device = Device::flex();
        let mut model = tiny(true, &device);
        let transitions = Tensor::<2>::from_data(
            [[0.5, -1.0, 0.2], [0.3, 0.1, -0.7], [1.1, 0.0, 0.4]],
            &device,
        );
        model.crf = Some(Crf::from_scores(
            transitions.clone(),
            Tensor::from_data([0.2, -0.3, 0.1], &device),
            Tensor::from_data([-0.1, 0.4, 0.0], &device),
        ));
        let loaded = tiny(true, &device).load_record(model.into_record());
        loaded
            .crf
            .unwrap()
            .transitions
            .val()
            .to_data()
            .assert_approx_eq::<f32>(&transitions.to_data(), Tolerance::default());
        assert!(tiny(false, &device).crf.is_none());
    }
}
