//! Document classification (seed chapters 4.1–4.2): token ids → embedding → a sequence
//! encoder → pooling over the real (unpadded) positions → a linear layer to class logits.
//!
//! Three encoders:
//! - [`TextEncoderKind::Bag`]: no encoder at all: the mean of the token vectors is the
//!   feature (`d` wide), a linear model of the document's bag of tokens. Fed words *and* their
//!   n-grams (see [`crate::text::VocabConfig::ngrams`]) it is fastText's classifier (Joulin et
//!   al. 2017, "Bag of Tricks for Efficient Text Classification"). Tokens the vocabulary does
//!   not know (`<unk>`) are left out of the mean, as fastText drops unknown words: with
//!   n-grams most unseen pairs are `<unk>`, and averaging them in would dilute the rest.
//! - [`TextEncoderKind::BiLstm`]: a bidirectional [`StackedRnn`] of LSTM cells; the pooled
//!   feature is `[masked mean ; masked max]` of its `[B, T, 2H]` outputs (`4H` wide).
//! - [`TextEncoderKind::Transformer`]: embeddings scaled by `√d`, plus sinusoidal positions,
//!   through a [`TransformerEncoder`] whose attention ignores padded keys; the pooled feature
//!   is the masked mean (`d` wide).
//!
//! Regularisation for small corpora: element-wise dropout on the embeddings and the pooled
//! feature, and optionally *word dropout* (`word_dropout`): whole token vectors are zeroed
//! with that probability while training (the survivors scaled by `1/(1-p)`), so the model
//! cannot lean on any single (rare) word — Gal & Ghahramani's embedding dropout, applied per
//! position, as in Iyyer et al.'s deep averaging networks.
//!
//! Padding never leaks into the result: the LSTM neither updates nor outputs at padded steps,
//! the encoder masks padded keys, and both poolings skip padded positions, so a document
//! gives the same logits whatever it is batched with (tested below).

use burn::data::dataloader::batcher::Batcher;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};

use crate::attention::key_padding_mask;
use crate::rnn::{RecurrentKind, StackedRnn, StackedRnnConfig};
use crate::text::{PAD_ID, UNK_ID};
use crate::transformer::{
    FfnActivation, NormPosition, PositionalEncoding, PositionalKind, TransformerEncoder,
    TransformerEncoderConfig, TransformerLayerConfig,
};

/// The sequence encoder of a [`TextClassifier`].
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum TextEncoderKind {
    /// No encoder: the mean of the known tokens' vectors (fastText with n-grams).
    Bag,
    /// Bidirectional LSTM, masked mean and max pooling.
    BiLstm,
    /// Transformer encoder (pre-norm, GELU), masked mean pooling.
    Transformer,
}

/// Configuration of a [`TextClassifier`].
#[derive(Config, Debug)]
pub struct TextClassifierConfig {
    /// Vocabulary size (rows of the embedding table; id 0 is padding).
    pub vocab_size: usize,
    /// Number of classes.
    pub num_classes: usize,
    /// The sequence encoder.
    pub encoder: TextEncoderKind,
    /// Embedding width (the Transformer's `d_model`).
    #[config(default = 64)]
    pub d_embed: usize,
    /// LSTM hidden width per direction, or the Transformer's feed-forward width.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Stacked LSTM layers or Transformer layers.
    #[config(default = 1)]
    pub n_layers: usize,
    /// Attention heads (Transformer).
    #[config(default = 4)]
    pub n_heads: usize,
    /// Longest sequence the positional table covers (Transformer).
    #[config(default = 512)]
    pub max_len: usize,
    /// Dropout on the embeddings and before the head (and inside the Transformer).
    #[config(default = 0.2)]
    pub dropout: f64,
    /// Probability of dropping a whole token vector while training (see the module docs).
    #[config(default = 0.0)]
    pub word_dropout: f64,
}

impl TextClassifierConfig {
    /// Builds the model.
    ///
    /// # Errors
    /// [`crate::SequenceError::InvalidArgument`] if `n_heads` does not divide `d_embed`.
    pub fn init(&self, device: &Device) -> crate::Result<TextClassifier> {
        let (lstm, position, encoder, d_feature) = match self.encoder {
            TextEncoderKind::Bag => (None, None, None, self.d_embed),
            TextEncoderKind::BiLstm => {
                let lstm = StackedRnnConfig::new(RecurrentKind::Lstm, self.d_embed, self.d_hidden)
                    .with_num_layers(self.n_layers)
                    .with_bidirectional(true)
                    .with_dropout(self.dropout)
                    .with_forget_bias(1.0)
                    .init(device);
                (Some(lstm), None, None, 4 * self.d_hidden)
            }
            TextEncoderKind::Transformer => {
                let layer = TransformerLayerConfig::new(self.d_embed, self.n_heads, self.d_hidden)
                    .with_dropout(self.dropout)
                    .with_norm(NormPosition::Pre)
                    .with_activation(FfnActivation::Gelu);
                let encoder = TransformerEncoderConfig::new(layer, self.n_layers).init(device)?;
                let position = PositionalEncoding::new(
                    PositionalKind::Sinusoidal,
                    self.d_embed,
                    self.max_len,
                    device,
                );
                (None, Some(position), Some(encoder), self.d_embed)
            }
        };
        Ok(TextClassifier {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_embed).init(device),
            lstm,
            position,
            encoder,
            dropout: DropoutConfig::new(self.dropout).init(),
            word_dropout: DropoutConfig::new(self.word_dropout).init(),
            head: LinearConfig::new(d_feature, self.num_classes).init(device),
        })
    }
}

/// Embedding → encoder → masked pooling → linear.
#[derive(Module, Debug)]
pub struct TextClassifier {
    /// Token embeddings `[V, d]`.
    pub embedding: Embedding,
    /// The BiLSTM (BiLSTM variant).
    pub lstm: Option<StackedRnn>,
    /// Sinusoidal positions (Transformer variant).
    pub position: Option<PositionalEncoding>,
    /// The encoder stack (Transformer variant).
    pub encoder: Option<TransformerEncoder>,
    /// Dropout on embeddings and pooled features.
    pub dropout: Dropout,
    /// Whole-token dropout on the embeddings.
    pub word_dropout: Dropout,
    /// Pooled feature → class logits.
    pub head: Linear,
}

impl TextClassifier {
    /// Class logits.
    ///
    /// # Shapes
    /// - tokens: `[B, T]` ids, padding: `[B, T]` (`true` = padded)
    /// - output: `[B, classes]`
    pub fn forward(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
        let [_, steps] = tokens.dims();
        // The bag model averages over the known tokens only: padding and <unk> are left out.
        let bag_ignored = (self.lstm.is_none() && self.encoder.is_none()).then(|| {
            padding
                .clone()
                .bool_or(tokens.clone().equal_elem(UNK_ID as i64))
        }); // [B, T]
        let x = drop_tokens(self.embedding.forward(tokens), &self.word_dropout); // [B, T, d]
        let features = if let Some(ignored) = bag_ignored {
            masked_mean(x, ignored) // [B, d]
        } else if let Some(lstm) = &self.lstm {
            let (out, _) = lstm.forward(self.dropout.forward(x), None, Some(padding.clone())); // [B, T, 2H]
            Tensor::cat(
                vec![
                    masked_mean(out.clone(), padding.clone()),
                    masked_max(out, padding),
                ],
                1,
            ) // [B, 4H]
        } else {
            let d = x.dims()[2] as f64;
            let mut x = x * d.sqrt();
            if let Some(position) = &self.position {
                x = position.forward(x);
            }
            let x = self.dropout.forward(x);
            let x = match &self.encoder {
                Some(encoder) => encoder.forward(x, Some(key_padding_mask(padding.clone(), steps))),
                None => x,
            }; // [B, T, d]
            masked_mean(x, padding) // [B, d]
        };
        self.head.forward(self.dropout.forward(features))
    }
}

/// Zeroes whole token vectors with `dropout`'s probability while training (one Bernoulli
/// draw per position, the survivors scaled by `1/(1-p)`); the identity in inference.
///
/// # Shapes
/// - x: `[B, T, D]` → `[B, T, D]`
pub fn drop_tokens(x: Tensor<3>, dropout: &Dropout) -> Tensor<3> {
    if dropout.prob == 0.0 {
        return x;
    }
    let [b, t, _] = x.dims();
    let keep = dropout.forward(Tensor::<3>::ones([b, t, 1], &x.device())); // 0 or 1/(1-p)
    x * keep
}

/// Mean over the unpadded positions.
///
/// # Shapes
/// - x: `[B, T, D]`, padding `[B, T]` (`true` = padded) → `[B, D]`
pub fn masked_mean(x: Tensor<3>, padding: Tensor<2, Bool>) -> Tensor<2> {
    let keep = padding.bool_not().float().unsqueeze_dim::<3>(2); // [B, T, 1]
    let sum = (x * keep.clone()).sum_dim(1).squeeze_dim::<2>(1); // [B, D]
    let count = keep.sum_dim(1).squeeze_dim::<2>(1).clamp_min(1.0); // [B, 1]
    sum / count
}

/// Maximum over the unpadded positions (a fully padded row gives `-1e4`).
///
/// # Shapes
/// - x: `[B, T, D]`, padding `[B, T]` (`true` = padded) → `[B, D]`
pub fn masked_max(x: Tensor<3>, padding: Tensor<2, Bool>) -> Tensor<2> {
    let [b, t, d] = x.dims();
    let mask = padding.unsqueeze_dim::<3>(2).expand([b, t, d]);
    x.mask_fill(mask, -1.0e4).max_dim(1).squeeze_dim::<2>(1)
}

/// One document: its token ids and its class.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TextItem {
    /// Token ids (already truncated to the maximum length).
    pub tokens: Vec<usize>,
    /// Class id.
    pub label: usize,
}

/// A padded batch of documents.
#[derive(Clone, Debug)]
pub struct TextBatch {
    /// `[B, T]` ids, padded with `<pad>` (0) to the longest document of the batch.
    pub tokens: Tensor<2, Int>,
    /// `[B, T]`, `true` at padded positions.
    pub padding: Tensor<2, Bool>,
    /// `[B]` classes.
    pub targets: Tensor<1, Int>,
}

/// Pads a list of [`TextItem`]s to the longest one. An empty document becomes one unmasked
/// `<pad>` step, so that attention and pooling always have a position to look at.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextBatcher;

impl TextBatcher {
    /// The `[B, T]` ids and padding mask of token lists.
    pub fn tokens_tensor(docs: &[&[usize]], device: &Device) -> (Tensor<2, Int>, Tensor<2, Bool>) {
        let steps = docs.iter().map(|d| d.len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(docs.len() * steps);
        let mut pad = Vec::with_capacity(docs.len() * steps);
        for doc in docs {
            for t in 0..steps {
                ids.push(doc.get(t).map_or(PAD_ID as i64, |&i| i as i64));
                pad.push(t >= doc.len().max(1)); // an empty document keeps one <pad> step
            }
        }
        (
            Tensor::from_data(TensorData::new(ids, [docs.len(), steps]), device),
            Tensor::from_data(TensorData::new(pad, [docs.len(), steps]), device),
        )
    }
}

impl Batcher<TextItem, TextBatch> for TextBatcher {
    fn batch(&self, items: Vec<TextItem>, device: &Device) -> TextBatch {
        let docs: Vec<&[usize]> = items.iter().map(|i| i.tokens.as_slice()).collect();
        let (tokens, padding) = Self::tokens_tensor(&docs, device);
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        TextBatch {
            tokens,
            padding,
            targets: Tensor::from_data(TensorData::new(labels, [items.len()]), device),
        }
    }
}

impl Supervised for TextClassifier {
    type Batch = TextBatch;
    fn step(&self, batch: TextBatch) -> ClassificationStep {
        ClassificationStep::from_logits(self.forward(batch.tokens, batch.padding), batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    #[test]
    fn pooling_skips_padding() {
        let device = Device::flex();
        let x = Tensor::<3>::from_data([[[1.0, -2.0], [3.0, 4.0], [100.0, 100.0]]], &device);
        let pad = Tensor::<2, Bool>::from_data([[false, false, true]], &device);
        masked_mean(x.clone(), pad.clone())
            .to_data()
            .assert_approx_eq::<f32>(&TensorData::from([[2.0, 1.0]]), Tolerance::default());
        masked_max(x, pad)
            .to_data()
            .assert_approx_eq::<f32>(&TensorData::from([[3.0, 4.0]]), Tolerance::default());
    }

    /// Word dropout zeroes whole token vectors (about `p` of them) while training, scales the
    /// rest by `1/(1-p)`, and does nothing in inference.
    #[test]
    fn word_dropout_drops_whole_tokens_only_in_training() {
        let dropout = DropoutConfig::new(0.5).init();
        let train = Device::flex().autodiff();
        train.seed(7);
        let x = Tensor::<3>::ones([4, 50, 6], &train);
        let y: Vec<f32> = drop_tokens(x, &dropout).into_data().try_to_vec().unwrap();
        let mut dropped = 0;
        for token in y.chunks(6) {
            assert!(token.iter().all(|&v| v == token[0]), "{token:?}");
            assert!(
                token[0] == 0.0 || (token[0] - 2.0).abs() < 1e-6,
                "{token:?}"
            );
            dropped += usize::from(token[0] == 0.0);
        }
        assert!((60..140).contains(&dropped), "{dropped} of 200 dropped");
        let infer = Device::flex();
        let x = Tensor::<3>::ones([2, 3, 4], &infer);
        drop_tokens(x.clone(), &dropout)
            .to_data()
            .assert_eq(&x.to_data(), true);
    }

    /// The bag model is exactly `head(mean of the known tokens' embeddings)`.
    #[test]
    fn bag_is_a_linear_model_of_the_mean_known_embedding() {
        let device = Device::flex();
        device.seed(5);
        let model = TextClassifierConfig::new(10, 3, TextEncoderKind::Bag)
            .with_d_embed(4)
            .with_dropout(0.0)
            .init(&device)
            .unwrap();
        let batch = TextBatcher.batch(
            vec![
                TextItem {
                    tokens: vec![2, UNK_ID, 7, 7],
                    label: 0,
                },
                TextItem {
                    tokens: vec![5],
                    label: 1,
                },
            ],
            &device,
        );
        let logits = model.forward(batch.tokens, batch.padding);
        let table = model.embedding.weight.val(); // [10, 4]
        let row = |i: usize| table.clone().slice(s![i..i + 1, ..]);
        let first = (row(2) + row(7) * 2.0) / 3.0; // <unk> left out
        let expected = model.head.forward(Tensor::cat(vec![first, row(5)], 0));
        logits
            .to_data()
            .assert_approx_eq::<f32>(&expected.to_data(), Tolerance::rel_abs(1e-5, 1e-6));
        assert_eq!(model.num_params(), 10 * 4 + 4 * 3 + 3);
    }

    #[test]
    fn logits_do_not_depend_on_batch_padding() {
        let device = Device::flex();
        for encoder in [
            TextEncoderKind::Bag,
            TextEncoderKind::BiLstm,
            TextEncoderKind::Transformer,
        ] {
            device.seed(3);
            let model = TextClassifierConfig::new(20, 3, encoder)
                .with_d_embed(8)
                .with_d_hidden(8)
                .with_n_heads(2)
                .with_dropout(0.0)
                .init(&device)
                .unwrap();
            let short = TextItem {
                tokens: vec![4, 5, 6],
                label: 0,
            };
            let long = TextItem {
                tokens: vec![7, 8, 9, 10, 11, 12],
                label: 1,
            };
            let alone = TextBatcher.batch(vec![short.clone()], &device);
            let together = TextBatcher.batch(vec![short, long], &device);
            assert_eq!(together.tokens.dims(), [2, 6]);
            let a = model.forward(alone.tokens, alone.padding);
            let b = model
                .forward(together.tokens, together.padding)
                .slice(s![0..1, ..]);
            a.to_data()
                .assert_approx_eq::<f32>(&b.to_data(), Tolerance::rel_abs(1e-4, 1e-5));
            let step = model.step(TextBatcher.batch(
                vec![
                    TextItem {
                        tokens: vec![],
                        label: 2,
                    },
                    TextItem {
                        tokens: vec![3],
                        label: 1,
                    },
                ],
                &device,
            ));
            assert_eq!(step.logits.dims(), [2, 3]);
            assert!(step.loss.into_scalar::<f32>().is_finite());
        }
    }
}
