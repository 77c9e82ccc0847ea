//! Where batches come from: any burn `Dataset` plus a `Batcher`.

use std::marker::PhantomData;

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::prelude::*;

use crate::TrainError;

/// A finite, indexable source of batches. The loop chooses the indices of each batch (see
/// `deepzero_data::epoch_batches`) so that the order depends only on the seed and the epoch.
pub trait BatchSource<B>: Send + Sync {
    /// Number of examples.
    fn len(&self) -> usize;
    /// True when there is nothing to train on.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Builds the batch of the examples at `indices`, on `device`.
    fn batch(&self, indices: &[usize], device: &Device) -> Result<B, TrainError>;
    /// Called at the start of each epoch (augmentation reseeds itself from it).
    fn start_epoch(&self, _epoch: usize) {}
}

/// A [`BatchSource`] over a burn [`Dataset`] of `I` and a [`Batcher`].
pub struct DatasetBatches<I, D, T> {
    /// The examples.
    pub dataset: D,
    /// Turns examples into a batch of tensors.
    pub batcher: T,
    on_epoch: Option<Box<dyn Fn(usize) + Send + Sync>>,
    _item: PhantomData<fn() -> I>,
}

impl<I, D, T> DatasetBatches<I, D, T> {
    /// Pairs a dataset with a batcher.
    pub fn new(dataset: D, batcher: T) -> Self {
        Self {
            dataset,
            batcher,
            on_epoch: None,
            _item: PhantomData,
        }
    }

    /// Runs `hook(epoch)` at the start of every epoch (used to reseed augmentation).
    pub fn with_epoch_hook(mut self, hook: impl Fn(usize) + Send + Sync + 'static) -> Self {
        self.on_epoch = Some(Box::new(hook));
        self
    }
}

impl<I, B, D, T> BatchSource<B> for DatasetBatches<I, D, T>
where
    D: Dataset<I>,
    T: Batcher<I, B>,
    I: Send + Sync,
    B: Send,
{
    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn batch(&self, indices: &[usize], device: &Device) -> Result<B, TrainError> {
        let items = indices
            .iter()
            .map(|&i| {
                self.dataset
                    .get(i)
                    .map_err(|e| TrainError::Data(format!("example {i}: {e}")))
            })
            .collect::<Result<Vec<I>, _>>()?;
        Ok(self.batcher.batch(items, device))
    }

    fn start_epoch(&self, epoch: usize) {
        if let Some(hook) = &self.on_epoch {
            hook(epoch);
        }
    }
}
