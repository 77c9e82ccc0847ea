//! Masks for padded batches and for autoregressive (causal) attention.
//!
//! Every mask follows burn's convention: **`true` = masked out** (a padded position, or a
//! future position a query may not see). Attention masks are `[B, T_q, T_k]` and broadcast over
//! the heads; padding masks are `[B, T]`.

use burn::prelude::*;

use crate::error::SequenceError;

/// The score a masked position gets before the softmax. Large enough that `exp` underflows to
/// exactly 0 in `f32` next to any realistic score, but finite, so that a row whose keys are all
/// masked gives a uniform distribution instead of `NaN` (burn's `MultiHeadAttention` uses
/// −10⁴ for the same purpose).
pub const MASKED_SCORE: f32 = -1.0e9;

/// Padding mask `[B, max_len]` from sequence lengths: `mask[b, t] = t >= lengths[b]`.
///
/// # Errors
/// [`SequenceError::InvalidArgument`] if a length exceeds `max_len`.
pub fn padding_mask(
    lengths: &[usize],
    max_len: usize,
    device: &Device,
) -> crate::Result<Tensor<2, Bool>> {
    if let Some(&l) = lengths.iter().find(|&&l| l > max_len) {
        return Err(SequenceError::InvalidArgument(format!(
            "sequence length {l} exceeds the padded length {max_len}"
        )));
    }
    let data: Vec<bool> = lengths
        .iter()
        .flat_map(|&l| (0..max_len).map(move |t| t >= l))
        .collect();
    Ok(Tensor::from_data(
        TensorData::new(data, [lengths.len(), max_len]),
        device,
    ))
}

/// Causal mask `[B, T, T]`: query `t` may attend to keys `0..=t` only (`true` above the
/// diagonal).
pub fn causal_mask(batch: usize, len: usize, device: &Device) -> Tensor<3, Bool> {
    Tensor::<2, Bool>::tril_mask([len, len], 0, device)
        .unsqueeze_dim::<3>(0)
        .expand([batch, len, len])
}

/// Attention mask `[B, T_q, T_k]` that hides the padded **keys** of a `[B, T_k]` padding mask
/// from every query.
pub fn key_padding_mask(padding: Tensor<2, Bool>, query_len: usize) -> Tensor<3, Bool> {
    let [batch, key_len] = padding.dims();
    padding
        .unsqueeze_dim::<3>(1)
        .expand([batch, query_len, key_len])
}

/// Union of two optional masks (a position is masked if either masks it).
pub fn combine(a: Option<Tensor<3, Bool>>, b: Option<Tensor<3, Bool>>) -> Option<Tensor<3, Bool>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.bool_or(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Self-attention mask for a decoder: causal, plus hidden padded keys if `padding` is given.
pub fn decoder_self_mask(
    padding: Option<Tensor<2, Bool>>,
    batch: usize,
    len: usize,
    device: &Device,
) -> Tensor<3, Bool> {
    let causal = causal_mask(batch, len, device);
    match padding {
        Some(p) => causal.bool_or(key_padding_mask(p, len)),
        None => causal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::*;

    #[test]
    fn padding_mask_from_lengths() {
        let m = padding_mask(&[3, 1, 0], 3, &device()).unwrap();
        m.to_data().assert_eq(
            &TensorData::from([
                [false, false, false],
                [false, true, true],
                [true, true, true],
            ]),
            false,
        );
        assert!(padding_mask(&[4], 3, &device()).is_err());
    }

    #[test]
    fn causal_mask_hides_the_future_and_matches_burn() {
        let m = causal_mask(2, 3, &device());
        let expected = TensorData::from([
            [false, true, true],
            [false, false, true],
            [false, false, false],
        ]);
        m.clone()
            .slice(s![1, .., ..])
            .squeeze_dim::<2>(0)
            .to_data()
            .assert_eq(&expected, false);
        let burn_mask = burn::nn::attention::generate_autoregressive_mask(2, 3, &device());
        m.to_data().assert_eq(&burn_mask.to_data(), false);
    }

    #[test]
    fn key_padding_and_combination() {
        let pad = padding_mask(&[2, 3], 3, &device()).unwrap();
        let m = decoder_self_mask(Some(pad), 2, 3, &device());
        m.to_data().assert_eq(
            &TensorData::from([
                [
                    [false, true, true],
                    [false, false, true],
                    [false, false, true],
                ],
                [
                    [false, true, true],
                    [false, false, true],
                    [false, false, false],
                ],
            ]),
            false,
        );
        assert!(combine(None, None).is_none());
    }
}
