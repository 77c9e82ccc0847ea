//! Evaluation of a trained model on a whole dataset.

use burn::prelude::*;
use serde::Serialize;

use crate::{BatchSource, Supervised, TrainError};

/// Mean loss and accuracy over a dataset, plus the predictions.
#[derive(Clone, Debug, Serialize)]
pub struct EvalResult {
    /// Mean loss per example.
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
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    let mut predictions = Vec::with_capacity(n);
    let mut targets = Vec::with_capacity(n);
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size) {
        let out = model.step(source.batch(chunk, device)?);
        let len = out.len();
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
    let examples = n.max(1) as f64;
    Ok(EvalResult {
        loss: loss_sum / examples,
        accuracy: correct as f64 / examples,
        examples: n,
        predictions,
        targets,
    })
}
