//! Turning [`ImageItem`]s into normalised `[B, C, H, W]` float batches.

use burn::Tensor;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::{Device, Int, TensorData};

use crate::ImageItem;

/// A batch of images and their class indices.
#[derive(Clone, Debug)]
pub struct ImageBatch {
    /// `[B, C, H, W]`, `(pixel / 255 − mean[c]) / std[c]`.
    pub images: Tensor<4>,
    /// `[B]` class indices.
    pub targets: Tensor<1, Int>,
}

/// Normalises pixels channel by channel: `x = (pixel / 255 − mean[c]) / std[c]`.
///
/// `mean` and `std` hold either one value per channel or a single value for all channels.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageBatcher {
    /// Per-channel mean of `pixel / 255`.
    pub mean: Vec<f32>,
    /// Per-channel standard deviation of `pixel / 255`.
    pub std: Vec<f32>,
}

impl ImageBatcher {
    /// A batcher with the given per-channel statistics.
    pub fn new(mean: Vec<f32>, std: Vec<f32>) -> Self {
        Self { mean, std }
    }

    /// MNIST's training-set statistics (mean 0.1307, std 0.3081).
    pub fn mnist() -> Self {
        Self::new(vec![0.1307], vec![0.3081])
    }

    /// Fashion-MNIST's training-set statistics (mean 0.2860, std 0.3530).
    pub fn fashion_mnist() -> Self {
        Self::new(vec![0.2860], vec![0.3530])
    }

    /// No normalisation beyond `pixel / 255` (mean 0, std 1): values in `[0, 1]`.
    pub fn unit() -> Self {
        Self::new(vec![0.0], vec![1.0])
    }

    /// The 256-entry lookup table `pixel → normalised value` of every channel.
    fn tables(&self, channels: usize) -> Vec<[f32; 256]> {
        let stat = |v: &[f32], name: &str, c: usize| match v.len() {
            1 => v[0],
            n if n == channels => v[c],
            n => panic!("ImageBatcher has {n} {name} values for {channels}-channel images"),
        };
        (0..channels)
            .map(|c| {
                let (mean, std) = (stat(&self.mean, "mean", c), stat(&self.std, "std", c));
                std::array::from_fn(|p| (p as f32 / 255.0 - mean) / std)
            })
            .collect()
    }

    /// Stacks and normalises the images of `items` into one `[B, C, H, W]` tensor on `device`,
    /// built on the host and uploaded in one transfer. An empty slice gives `[0, 0, 0, 0]`.
    ///
    /// # Panics
    /// If the items do not all have the same shape (with `C × H × W` pixels each), or `mean`/`std` hold neither one value nor
    /// one per channel: both are programming errors, and a [`Batcher`] cannot return an error.
    pub fn images_tensor(&self, items: &[ImageItem], device: &Device) -> Tensor<4> {
        let Some(first) = items.first() else {
            return Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, 0, 0, 0]), device);
        };
        let [c, h, w] = first.shape;
        let tables = self.tables(c);
        let mut data = Vec::with_capacity(items.len() * c * h * w);
        for item in items {
            assert!(
                item.shape == first.shape && item.pixels.len() == c * h * w,
                "all images of a batch must have the same shape and C×H×W pixels: \
                 {:?} with {} pixels after {:?}",
                item.shape,
                item.pixels.len(),
                first.shape
            );
            if h * w > 0 {
                for (plane, table) in item.pixels.chunks_exact(h * w).zip(&tables) {
                    data.extend(plane.iter().map(|&p| table[usize::from(p)]));
                }
            }
        }
        Tensor::from_data(TensorData::new(data, [items.len(), c, h, w]), device)
    }

    /// The labels of `items` as a `[B]` Int tensor on `device`.
    pub fn targets_tensor(items: &[ImageItem], device: &Device) -> Tensor<1, Int> {
        let labels: Vec<i64> = items.iter().map(|i| i.label as i64).collect();
        Tensor::from_data(TensorData::new(labels, [items.len()]), device)
    }
}

impl Batcher<ImageItem, ImageBatch> for ImageBatcher {
    fn batch(&self, items: Vec<ImageItem>, device: &Device) -> ImageBatch {
        ImageBatch {
            images: self.images_tensor(&items, device),
            targets: Self::targets_tensor(&items, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Tolerance;

    fn item(pixels: Vec<u8>, shape: [usize; 3], label: usize) -> ImageItem {
        ImageItem {
            pixels,
            shape,
            label,
        }
    }

    #[test]
    fn mnist_batch_shape_values_targets() {
        let device = Device::flex();
        let items = vec![
            item(vec![0, 255, 51, 102], [1, 2, 2], 3),
            item(vec![255, 0, 0, 0], [1, 2, 2], 9),
            item(vec![0; 4], [1, 2, 2], 0),
        ];
        let batch = ImageBatcher::mnist().batch(items, &device);
        assert_eq!(batch.images.dims(), [3, 1, 2, 2]);
        let norm = |p: f32| (p / 255.0 - 0.1307) / 0.3081;
        let expected = TensorData::new(
            vec![
                norm(0.0),
                norm(255.0),
                norm(51.0),
                norm(102.0),
                norm(255.0),
                norm(0.0),
                norm(0.0),
                norm(0.0),
                norm(0.0),
                norm(0.0),
                norm(0.0),
                norm(0.0),
            ],
            [3, 1, 2, 2],
        );
        batch
            .images
            .to_data()
            .assert_approx_eq::<f32>(&expected, Tolerance::rel_abs(1e-5, 1e-6));
        assert!((norm(0.0) - (-0.424_213)).abs() < 1e-5);
        assert_eq!(batch.targets.dims(), [3]);
        batch
            .targets
            .to_data()
            .assert_eq(&TensorData::from([3i64, 9, 0]), false);
    }

    #[test]
    fn per_channel_statistics() {
        let device = Device::flex();
        // A 3×1×1 image: r = 255, g = 0, b = 51.
        let batcher = ImageBatcher::new(vec![0.5, 0.0, 0.2], vec![0.5, 2.0, 1.0]);
        let images = batcher.images_tensor(&[item(vec![255, 0, 51], [3, 1, 1], 0)], &device);
        images.to_data().assert_approx_eq::<f32>(
            &TensorData::from([[[[1.0f32]], [[0.0]], [[0.0]]]]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
        let unit =
            ImageBatcher::unit().images_tensor(&[item(vec![255, 0, 51], [3, 1, 1], 0)], &device);
        unit.to_data().assert_approx_eq::<f32>(
            &TensorData::from([[[[1.0f32]], [[0.0]], [[0.2]]]]),
            Tolerance::rel_abs(1e-5, 1e-6),
        );
    }

    #[test]
    fn empty_batch() {
        let device = Device::flex();
        let batch = ImageBatcher::fashion_mnist().batch(Vec::new(), &device);
        assert_eq!(batch.images.dims(), [0, 0, 0, 0]);
        assert_eq!(batch.targets.dims(), [0]);
    }

    #[test]
    #[should_panic(expected = "same shape")]
    fn mixed_shapes_panic() {
        let items = [
            item(vec![0; 4], [1, 2, 2], 0),
            item(vec![0; 6], [1, 2, 3], 0),
        ];
        ImageBatcher::unit().images_tensor(&items, &Device::flex());
    }
}
