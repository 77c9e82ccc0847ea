//! Evaluation of a trained model on a whole dataset.

use burn::prelude::*;
use serde::Serialize;

use crate::{BatchSource, Supervised, TrainError};

/// Mean loss and accuracy over a dataset, plus the predictions.
///
/// Both are averaged over *targets* (rows of [`crate::ClassificationStep::targets`]): one per
/// example for a classifier, one per token for a tagger or a language model.
#[derive(Clone, Debug, Serialize)]
pub struct EvalResult {
    /// Mean loss per target (per example for a classifier, per token for a token-level task).
    pub loss: f64,
    /// Fraction of arg-max predictions equal to the target.
    pub accuracy: f64,
    /// Number of examples.
    pub examples: usize,
    /// Predicted class per example, in dataset order.
    #[serde(skip)]
    pub predictions: Vec<usize>,
    /// Target class per example, in dataset order.
    #[serde(skip)]
    pub targets: Vec<usize>,
}

/// Runs `model` (put it in inference mode first: `model.valid()`) over every example of
/// `source` in order, in batches of `batch_size`, on `device` (a non-autodiff device).
pub fn evaluate<M, S>(
    model: &M,
    source: &S,
    batch_size: usize,
    device: &Device,
) -> Result<EvalResult, TrainError>
where
    M: Supervised,
    S: BatchSource<M::Batch> + ?Sized,
{
    if batch_size == 0 {
        return Err(TrainError::Config("batch size must be at least 1".into()));
    }
    let n = source.len();
    let (mut loss_sum, mut correct, mut total) = (0.0f64, 0usize, 0usize);
    let mut predictions = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size) {
        let out = model.step(source.batch(chunk, device)?);
        let len = out.len();
        total += len;
        loss_sum += out.loss.clone().into_scalar::<f32>() as f64 * len as f64;
        let predicted = out.logits.clone().argmax(1).squeeze_dim::<1>(1);
        let p: Vec<i64> = predicted
            .try_into_vec_as::<i64>()
            .map_err(|e| TrainError::Data(format!("{e:?}")))?;
        let t: Vec<i64> = out
            .targets
            .clone()
            .try_into_vec_as::<i64>()
            .map_err(|e| TrainError::Data(format!("{e:?}")))?;
        correct += p.iter().zip(&t).filter(|(a, b)| a == b).count();
        predictions.extend(p.into_iter().map(|v| v as usize));
        targets.extend(t.into_iter().map(|v| v as usize));
    }
    // Token-level steps return several targets per example: average over targets.
    let targets_seen = total.max(1) as f64;
    Ok(EvalResult {
        loss: loss_sum / targets_seen,
        accuracy: correct as f64 / targets_seen,
        examples: n,
        predictions,
        targets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClassificationStep;

    /// A "model" whose every example yields `example + 1` targets, logits favouring class 0.
    #[derive(Module, Debug)]
    struct Tokens {
        bias: burn::module::Param<Tensor<1>>,
    }

    impl Supervised for Tokens {
        type Batch = (Tensor<2>, Tensor<1, Int>);
        fn step(&self, (logits, targets): Self::Batch) -> ClassificationStep {
            let logits = logits + self.bias.val().unsqueeze_dim::<2>(0);
            ClassificationStep::from_logits(logits, targets)
        }
    }

    struct Source;

    impl BatchSource<(Tensor<2>, Tensor<1, Int>)> for Source {
        fn len(&self) -> usize {
            3
        }
        fn batch(
            &self,
            indices: &[usize],
            device: &Device,
        ) -> Result<(Tensor<2>, Tensor<1, Int>), TrainError> {
            // Example i has i + 1 tokens; tokens of example 0 are right, the others wrong.
            let mut targets = Vec::new();
            for &i in indices {
                targets.extend(std::iter::repeat_n(if i == 0 { 0i64 } else { 1 }, i + 1));
            }
            let n = targets.len();
            let logits =
                Tensor::from_data(TensorData::new([1.0f32, 0.0].repeat(n), [n, 2]), device);
            Ok((
                logits,
                Tensor::from_data(TensorData::new(targets, [n]), device),
            ))
        }
    }

    #[test]
    fn token_level_steps_are_averaged_over_targets() {
        let device = Device::flex();
        let model = Tokens {
            bias: burn::module::Param::from_tensor(Tensor::zeros([2], &device)),
        };
        let r = evaluate(&model, &Source, 2, &device).unwrap();
        // 6 tokens, 1 right: accuracy 1/6, not 1/3 (per example); loss is the token mean.
        assert!((r.accuracy - 1.0 / 6.0).abs() < 1e-9, "{}", r.accuracy);
        let (right, wrong) = ((1.0f64 + (-1f64).exp()).ln(), (1.0f64 + 1f64.exp()).ln());
        assert!(
            (r.loss - (right + 5.0 * wrong) / 6.0).abs() < 1e-5,
            "{}",
            r.loss
        );
        assert_eq!(r.examples, 3);
        assert_eq!(r.predictions.len(), 6);
    }
}
