//! What a model must offer to be trained by [`crate::fit()`].

use burn::module::Module;
use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// A model trained by minimising a classification-style loss on batches of type `Batch`.
///
/// Token-level tasks fit too: a language model returns logits `[B·T, V]` and targets `[B·T]`.
pub trait Supervised: Module {
    /// The batch the model consumes (built by a [`crate::BatchSource`]).
    type Batch: Send;
    /// Forward pass and loss for one batch.
    fn step(&self, batch: Self::Batch) -> ClassificationStep;
}

/// The result of one forward pass: mean loss, logits and targets.
#[derive(Debug, Clone)]
pub struct ClassificationStep {
    /// Mean loss over the batch, shape `[1]`.
    pub loss: Tensor<1>,
    /// Logits, `[N, classes]`.
    pub logits: Tensor<2>,
    /// Target classes, `[N]`.
    pub targets: Tensor<1, Int>,
}

impl ClassificationStep {
    /// Mean softmax cross-entropy of `logits` `[N, C]` against `targets` `[N]`.
    ///
    /// Computed as `-mean(log_softmax(z)[target])`: the log-sum-exp form never overflows.
    pub fn from_logits(logits: Tensor<2>, targets: Tensor<1, Int>) -> Self {
        let log_probs = log_softmax(logits.clone(), 1);
        let picked = log_probs.gather(1, targets.clone().unsqueeze_dim(1)); // [N, 1]
        let loss = picked.mean().neg();
        Self {
            loss,
            logits,
            targets,
        }
    }

    /// Number of examples in the batch.
    pub fn len(&self) -> usize {
        self.targets.dims()[0]
    }

    /// True for an empty batch.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many arg-max predictions equal the target.
    pub fn correct(&self) -> usize {
        let predicted = self.logits.clone().argmax(1).squeeze_dim::<1>(1);
        let hits: i64 = predicted
            .equal(self.targets.clone())
            .int()
            .sum()
            .into_scalar::<i64>();
        hits as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::loss::CrossEntropyLossConfig;
    use burn::tensor::{TensorData, Tolerance};

    #[test]
    fn loss_equals_burn_cross_entropy_and_counts_hits() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(
            [[2.0, 0.5, -1.0], [0.1, 0.2, 3.0], [1000.0, 0.0, 0.0]],
            &device,
        );
        let targets = Tensor::<1, Int>::from_data([0, 1, 0], &device);
        let step = ClassificationStep::from_logits(logits.clone(), targets.clone());
        let reference = CrossEntropyLossConfig::new()
            .init(&device)
            .forward(logits, targets);
        step.loss
            .to_data()
            .assert_approx_eq::<f32>(&reference.to_data(), Tolerance::rel_abs(1e-5, 1e-6));
        assert!(step.loss.clone().into_scalar::<f32>().is_finite());
        assert_eq!(step.correct(), 2);
        assert_eq!(step.len(), 3);
        let _ = TensorData::from([0.0f32]);
    }
}
