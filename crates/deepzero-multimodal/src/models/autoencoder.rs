//! A convolutional auto-encoder: the self-supervised image tower of seed chapter 6.1 (image
//! features learnt without labels by reconstructing the image through a narrow code).
//!
//! ```text
//! [B,C,S,S] → conv3/2 (w) → ReLU → conv3/2 (2w) → ReLU → flatten → linear → code [B, d]
//! code → linear → ReLU → [B, 2w, S/4, S/4] → convT4/2 (w) → ReLU → convT4/2 (C) → σ → [B,C,S,S]
//! ```
//! The transposed convolutions (kernel 4, stride 2, padding 1) exactly double the side, so the
//! reconstruction has the input's shape for any side divisible by 4. Pixels are in `[0, 1]`
//! and the loss is their mean squared error ([`ConvAutoencoder::reconstruction_loss`]). The
//! code ([`ConvAutoencoder::embed`]) is the embedding a retrieval index or a fusion module
//! takes; the test `codes_separate_what_the_pixels_separate` trains on two kinds of pattern
//! without their labels and finds every code nearer to its own kind.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};

/// Configuration of [`ConvAutoencoder`].
#[derive(Config, Debug)]
pub struct ConvAutoencoderConfig {
    /// Image side `S` (divisible by 4).
    pub side: usize,
    /// Code width `d`.
    pub code: usize,
    /// Image channels `C`.
    #[config(default = 1)]
    pub channels: usize,
    /// Channels of the first convolution `w` (the second has `2w`).
    #[config(default = 16)]
    pub width: usize,
}

impl ConvAutoencoderConfig {
    /// Builds the model.
    ///
    /// # Panics
    /// When `side` is not a positive multiple of 4 (a programming error: the side comes from
    /// the data set, which the caller knows).
    pub fn init(&self, device: &Device) -> ConvAutoencoder {
        assert!(
            self.side > 0 && self.side.is_multiple_of(4),
            "the auto-encoder's side must be a multiple of 4, not {}",
            self.side
        );
        let (w, quarter) = (self.width, self.side / 4);
        let flat = 2 * w * quarter * quarter;
        let down = |c_in, c_out| {
            Conv2dConfig::new([c_in, c_out], [3, 3])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |c_in, c_out| {
            ConvTranspose2dConfig::new([c_in, c_out], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        ConvAutoencoder {
            down1: down(self.channels, w),
            down2: down(w, 2 * w),
            to_code: LinearConfig::new(flat, self.code).init(device),
            from_code: LinearConfig::new(self.code, flat).init(device),
            up1: up(2 * w, w),
            up2: up(w, self.channels),
            width: w,
            quarter,
        }
    }
}

/// The auto-encoder; see the module documentation.
#[derive(Module, Debug)]
pub struct ConvAutoencoder {
    down1: Conv2d,
    down2: Conv2d,
    to_code: Linear,
    from_code: Linear,
    up1: ConvTranspose2d,
    up2: ConvTranspose2d,
    #[module(skip)]
    width: usize,
    #[module(skip)]
    quarter: usize,
}

impl ConvAutoencoder {
    /// The code of each image.
    ///
    /// # Shapes
    /// - `images`: `[B, C, S, S]` in `[0, 1]` → `[B, d]`
    pub fn embed(&self, images: Tensor<4>) -> Tensor<2> {
        let x = relu(self.down1.forward(images));
        let x = relu(self.down2.forward(x)); // [B, 2w, S/4, S/4]
        self.to_code.forward(x.flatten(1, 3))
    }

    /// The image a code decodes to.
    ///
    /// # Shapes
    /// - `code`: `[B, d]` → `[B, C, S, S]` in `(0, 1)`
    pub fn decode(&self, code: Tensor<2>) -> Tensor<4> {
        let batch = code.dims()[0];
        let x = relu(self.from_code.forward(code)).reshape([
            batch,
            2 * self.width,
            self.quarter,
            self.quarter,
        ]);
        let x = relu(self.up1.forward(x));
        sigmoid(self.up2.forward(x))
    }

    /// `decode(embed(images))`, `[B, C, S, S]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.embed(images))
    }

    /// Mean squared error between the images and their reconstruction, `[1]`.
    pub fn reconstruction_loss(&self, images: Tensor<4>) -> Tensor<1> {
        (self.forward(images.clone()) - images)
            .powi_scalar(2)
            .mean()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::optim::{AdamConfig, GradientsParams};

    /// `n` 12×12 images: even ones a horizontal bar 3 pixels thick, odd ones a vertical bar,
    /// at shifting places.
    fn bars(n: usize, device: &Device) -> Tensor<4> {
        let mut pixels = vec![0.0f32; n * 144];
        for i in 0..n {
            let at = 1 + (i / 2) % 8;
            for k in 0..12 {
                for t in at..at + 3 {
                    let (y, x) = if i % 2 == 0 { (t, k) } else { (k, t) };
                    pixels[i * 144 + y * 12 + x] = 1.0;
                }
            }
        }
        Tensor::from_data(TensorData::new(pixels, [n, 1, 12, 12]), device)
    }

    #[test]
    fn shapes() {
        let dev = Device::flex();
        let model = ConvAutoencoderConfig::new(12, 5).with_width(4).init(&dev);
        let images = bars(3, &dev);
        assert_eq!(model.embed(images.clone()).dims(), [3, 5]);
        assert_eq!(model.forward(images).dims(), [3, 1, 12, 12]);
    }

    #[test]
    fn codes_separate_what_the_pixels_separate() {
        let dev = Device::flex().autodiff();
        dev.seed(2);
        let images = bars(16, &dev);
        let mut model = ConvAutoencoderConfig::new(12, 8).with_width(8).init(&dev);
        let mut optim = AdamConfig::new().init();
        let first = model
            .reconstruction_loss(images.clone())
            .into_scalar::<f32>();
        for _ in 0..400 {
            let loss = model.reconstruction_loss(images.clone());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, grads);
        }
        let last = model
            .reconstruction_loss(images.clone())
            .into_scalar::<f32>();
        assert!(last < 0.2 * first, "loss {first} → {last}");

        // Every code's nearest other code (cosine) is of its own kind, though no label was seen.
        let codes: Vec<f32> = model.embed(images).into_data().try_into_vec().unwrap();
        let code = |i: usize| &codes[i * 8..(i + 1) * 8];
        let cosine = |a: &[f32], b: &[f32]| {
            let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
            dot / (norm(a) * norm(b))
        };
        for i in 0..16 {
            let nearest = (0..16)
                .filter(|&j| j != i)
                .max_by(|&a, &b| cosine(code(i), code(a)).total_cmp(&cosine(code(i), code(b))))
                .unwrap();
            assert_eq!(
                nearest % 2,
                i % 2,
                "image {i}'s nearest code is image {nearest}'s"
            );
        }
    }
}
