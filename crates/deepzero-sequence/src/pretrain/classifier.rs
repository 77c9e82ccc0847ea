//! Sequence classification on a [`BertEncoder`]: the encoder's vectors, averaged over the real
//! (unpadded) positions, through dropout and one linear layer.
//!
//! ```text
//! [CLS] tokens [SEP] ──► BertEncoder ──► masked mean over the positions ──► dropout ──► Linear(d, C)
//! ```
//!
//! Mean pooling rather than BERT's `[CLS]` vector: a small encoder pre-trained for minutes
//! never learnt a sentence-level task (there is no next-sentence objective here), so its
//! `[CLS]` vector carries no summary; the mean of all positions does from the first step.

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};

use super::model::{BertConfig, BertEncoder};
use crate::tasks::{TextBatch, masked_mean};

/// A [`BertEncoder`] with a classification head.
#[derive(Module, Debug)]
pub struct BertClassifier {
    /// The (pre-trained) encoder.
    pub bert: BertEncoder,
    /// Dropout on the pooled vector.
    pub dropout: Dropout,
    /// Pooled vector → class logits.
    pub head: Linear,
}

impl BertClassifier {
    /// A new head of `classes` outputs on `bert`.
    pub fn new(bert: BertEncoder, classes: usize, dropout: f64, device: &Device) -> Self {
        let d = bert.token_embedding.weight.lazy_shape().dims::<2>()[1];
        Self {
            bert,
            dropout: DropoutConfig::new(dropout).init(),
            head: LinearConfig::new(d, classes).init(device),
        }
    }

    /// A randomly initialised encoder of `config` with a new head.
    ///
    /// # Errors
    /// As [`BertConfig::init`].
    pub fn init(config: &BertConfig, classes: usize, device: &Device) -> crate::Result<Self> {
        Ok(Self::new(
            config.init(device)?,
            classes,
            config.dropout,
            device,
        ))
    }

    /// Class logits.
    ///
    /// # Shapes
    /// - tokens: `[B, T]` ids, padding: `[B, T]` (`true` = padded)
    /// - output: `[B, classes]`
    pub fn forward(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<2> {
        let hidden = self.bert.forward(tokens, padding.clone()); // [B, T, d]
        let pooled = masked_mean(hidden, padding); // [B, d]
        self.head.forward(self.dropout.forward(pooled))
    }
}

impl Supervised for BertClassifier {
    type Batch = TextBatch;
    fn step(&self, batch: TextBatch) -> ClassificationStep {
        ClassificationStep::from_logits(self.forward(batch.tokens, batch.padding), batch.targets)
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::Tolerance;

    use super::*;

    /// A document's logits do not depend on the padding it is batched with.
    #[test]
    fn padding_does_not_change_a_documents_logits() {
        let device = Device::flex();
        let config = BertConfig::new(12)
            .with_d_model(8)
            .with_n_heads(2)
            .with_d_ff(16)
            .with_n_layers(1)
            .with_max_len(8)
            .with_dropout(0.0);
        let model = BertClassifier::init(&config, 3, &device).unwrap();
        let alone = model.forward(
            Tensor::from_data([[9, 3, 4, 10]], &device),
            Tensor::from_data([[false, false, false, false]], &device),
        );
        let batched = model.forward(
            Tensor::from_data([[9, 3, 4, 10, 0, 0], [9, 5, 6, 7, 8, 10]], &device),
            Tensor::from_data(
                [
                    [false, false, false, false, true, true],
                    [false, false, false, false, false, false],
                ],
                &device,
            ),
        );
        assert_eq!(batched.dims(), [2, 3]);
        batched
            .slice([0..1, 0..3])
            .to_data()
            .assert_approx_eq::<f32>(&alone.to_data(), Tolerance::default());
    }
}
