//! Positional encodings (Vaswani et al. 2017, section 3.5). Attention is permutation-
//! equivariant, so the order of the tokens has to be added to their embeddings.
//!
//! Sinusoidal (fixed):
//!
//! ```text
//! PE(pos, 2i)     = sin(pos / base^{2i/d_model})
//! PE(pos, 2i + 1) = cos(pos / base^{2i/d_model})          base = 10 000
//! ```
//!
//! Each pair `(2i, 2i+1)` is a point on a circle turning at its own frequency, so
//! `PE(pos + k)` is a fixed rotation of `PE(pos)` and `PE(p)·PE(p + k)` depends on `k` only
//! (test `dot_products_depend_only_on_the_offset`). Learned: one trainable vector per position
//! (BERT, GPT-2), limited to the `max_len` it was trained for.

use burn::module::Param;
use burn::nn::Initializer;
use burn::prelude::*;

/// The `[len, d_model]` sinusoid table, computed in `f64` and rounded once.
pub fn sinusoidal_table(len: usize, d_model: usize, base: f64, device: &Device) -> Tensor<2> {
    let mut table = Vec::with_capacity(len * d_model);
    for pos in 0..len {
        for k in 0..d_model {
            let pair = (k / 2 * 2) as f64; // the even index 2i of this pair
            let angle = pos as f64 / base.powf(pair / d_model as f64);
            table.push(if k % 2 == 0 { angle.sin() } else { angle.cos() } as f32);
        }
    }
    Tensor::from_data(TensorData::new(table, [len, d_model]), device)
}

/// Configuration of [`SinusoidalEncoding`].
#[derive(Config, Debug)]
pub struct SinusoidalEncodingConfig {
    /// Embedding width.
    pub d_model: usize,
    /// Longest sequence the table covers.
    #[config(default = 5000)]
    pub max_len: usize,
    /// The wavelength base (10 000 in the paper).
    #[config(default = 10000.0)]
    pub base: f64,
}

impl SinusoidalEncodingConfig {
    /// Precomputes the table.
    pub fn init(&self, device: &Device) -> SinusoidalEncoding {
        SinusoidalEncoding {
            table: sinusoidal_table(self.max_len, self.d_model, self.base, device),
        }
    }
}

/// Adds the fixed sinusoid table (a constant, not a parameter: nothing is trained or saved).
#[derive(Module, Debug)]
pub struct SinusoidalEncoding {
    /// `[max_len, d_model]`.
    pub table: Tensor<2>,
}

impl SinusoidalEncoding {
    /// # Shapes
    /// - x: `[B, T, d_model]` with `T ≤ max_len`
    /// - output: `x + PE[0..T]`, `[B, T, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        add_positions(x, self.table.clone())
    }
}

fn add_positions(x: Tensor<3>, table: Tensor<2>) -> Tensor<3> {
    let [_, len, _] = x.dims();
    let [max_len, _] = table.dims();
    assert!(
        len <= max_len,
        "sequence of length {len} exceeds the {max_len} encoded positions"
    );
    let table = table.to_device(&x.device()); // a constant follows the input (e.g. onto autodiff)
    x + table.slice(0..len).unsqueeze_dim::<3>(0)
}

/// Configuration of [`LearnedPositionalEncoding`].
#[derive(Config, Debug)]
pub struct LearnedPositionalEncodingConfig {
    /// Embedding width.
    pub d_model: usize,
    /// Number of positions.
    pub max_len: usize,
    /// Initial standard deviation (0.02 as in GPT-2 and BERT).
    #[config(default = 0.02)]
    pub std: f64,
}

impl LearnedPositionalEncodingConfig {
    /// Builds the table `N(0, std²)`.
    pub fn init(&self, device: &Device) -> LearnedPositionalEncoding {
        LearnedPositionalEncoding {
            table: Initializer::Normal {
                mean: 0.0,
                std: self.std,
            }
            .init([self.max_len, self.d_model], device),
        }
    }
}

/// Adds a trained vector per position.
#[derive(Module, Debug)]
pub struct LearnedPositionalEncoding {
    /// `[max_len, d_model]`.
    pub table: Param<Tensor<2>>,
}

impl LearnedPositionalEncoding {
    /// # Shapes
    /// - x: `[B, T, d_model]` with `T ≤ max_len`
    /// - output: `[B, T, d_model]`
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        add_positions(x, self.table.val())
    }
}

/// Which positional encoding a model uses.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum PositionalKind {
    /// [`SinusoidalEncoding`].
    Sinusoidal,
    /// [`LearnedPositionalEncoding`].
    Learned,
}

/// Either encoding (a module enum).
#[derive(Module, Debug)]
pub enum PositionalEncoding {
    /// Fixed sinusoids.
    Sinusoidal(SinusoidalEncoding),
    /// Trained table.
    Learned(LearnedPositionalEncoding),
}

impl PositionalEncoding {
    /// Builds the encoding of `kind`.
    pub fn new(kind: PositionalKind, d_model: usize, max_len: usize, device: &Device) -> Self {
        match kind {
            PositionalKind::Sinusoidal => Self::Sinusoidal(
                SinusoidalEncodingConfig::new(d_model)
                    .with_max_len(max_len)
                    .init(device),
            ),
            PositionalKind::Learned => {
                Self::Learned(LearnedPositionalEncodingConfig::new(d_model, max_len).init(device))
            }
        }
    }

    /// `x + PE[0..T]` for `x: [B, T, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Self::Sinusoidal(p) => p.forward(x),
            Self::Learned(p) => p.forward(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;
    use burn::nn::PositionalEncodingConfig;

    #[test]
    fn known_values() {
        let t = host(&sinusoidal_table(3, 4, 10000.0, &device()));
        // pos 0: sin 0, cos 0, sin 0, cos 0.
        assert_eq!(&t[0..4], &[0.0, 1.0, 0.0, 1.0]);
        // pos 2, pair i = 1: angle 2 / 10000^{2/4} = 0.02.
        assert!((t[2 * 4 + 2] - 0.02f32.sin()).abs() < 1e-7);
        assert!((t[2 * 4 + 3] - 0.02f32.cos()).abs() < 1e-7);
    }

    #[test]
    fn equals_burn_positional_encoding() {
        let dev = device();
        let theirs = PositionalEncodingConfig::new(16).init(&dev); // max 5000, timescale 10 000
        let zeros = Tensor::zeros([2, 64, 16], &dev);
        let ours = SinusoidalEncodingConfig::new(16).init(&dev);
        assert_close(
            &ours.forward(zeros.clone()),
            &theirs.forward(zeros),
            0.0,
            1e-5,
        );
        // burn evaluates the angles `pos · ω` in f32, ours are rounded once from f64; over
        // all of burn's 5000 positions the two tables drift apart by 7.0e-5 at most.
        let burn_table: Tensor<2> = theirs.sinusoids.clone().squeeze_dim(0);
        let drift = max_abs_diff(&ours.table, &burn_table);
        assert!(drift < 2e-4, "drift {drift}");
    }

    #[test]
    fn dot_products_depend_only_on_the_offset() {
        let t = host(&sinusoidal_table(40, 8, 10000.0, &device()));
        let dot = |a: usize, b: usize| -> f32 { (0..8).map(|k| t[a * 8 + k] * t[b * 8 + k]).sum() };
        for k in [1, 3, 7] {
            for p in [0, 5, 20] {
                assert!((dot(p, p + k) - dot(0, k)).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn learned_encoding_trains_only_the_positions_it_sees() {
        let dev = device().autodiff();
        let pe = LearnedPositionalEncodingConfig::new(4, 10).init(&dev);
        let x = Tensor::<3>::ones([2, 3, 4], &dev);
        let grads = pe.forward(x).sum().backward();
        let g = pe.table.grad(&grads).unwrap();
        assert_eq!(g.dims(), [10, 4]);
        assert!(host(&g.clone().slice(0..3)).iter().all(|&v| v == 2.0)); // two sequences
        assert!(host(&g.slice(3..10)).iter().all(|&v| v == 0.0));
    }

    #[test]
    #[should_panic(expected = "exceeds")]
    fn rejects_sequences_longer_than_the_table() {
        let pe = PositionalEncoding::new(PositionalKind::Learned, 4, 2, &device());
        pe.forward(Tensor::zeros([1, 3, 4], &device()));
    }
}
