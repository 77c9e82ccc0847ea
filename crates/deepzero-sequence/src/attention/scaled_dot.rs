//! Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", eq. 1;
//! seed chapter 4.3.1, lines 915, 933, 939).
//!
//! ```text
//! Attention(Q, K, V) = softmax(Q Kᵀ / √d_k + M) V
//! ```
//!
//! `M` is 0 where a query may look and −∞ (here [`MASKED_SCORE`]) where it may not. The
//! softmax runs over the key axis, so every row of weights is a probability distribution and
//! every output row is a **convex combination** of the value rows. Dividing by `√d_k` keeps
//! the scores' variance near 1 for unit-variance `q`, `k` (the dot product of two random
//! `d_k`-vectors has variance `d_k`), so the softmax does not saturate.
//!
//! **Seed erratum.** The seed writes `Attention(Q, K, V) = QKᵀ/√d_k ⊙ V`: no softmax, and an
//! element-wise product where a matrix product belongs (`QKᵀ` is `T_q × T_k`, `V` is
//! `T_k × d_v`, so `⊙` is not even defined unless `T_q = T_k = d_v`). Without the softmax the
//! "weights" are unnormalised, can be negative, and the output leaves the convex hull of the
//! values (test `seed_formula_without_softmax_is_not_a_convex_combination`).

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::mask::MASKED_SCORE;

/// `softmax(Q Kᵀ / √d_k + mask) V` over the last two axes, batched over the leading ones.
///
/// Returns `(context, weights)`.
///
/// # Shapes
/// - query: `[..., T_q, d_k]`, key: `[..., T_k, d_k]`, value: `[..., T_k, d_v]`
/// - mask: `[..., T_q, T_k]` (`true` = masked); size-1 leading axes broadcast (e.g. the heads)
/// - context: `[..., T_q, d_v]`, weights: `[..., T_q, T_k]` (rows sum to 1)
pub fn scaled_dot_product_attention<const D: usize>(
    query: Tensor<D>,
    key: Tensor<D>,
    value: Tensor<D>,
    mask: Option<Tensor<D, Bool>>,
) -> (Tensor<D>, Tensor<D>) {
    let weights = attention_weights(query, key, mask);
    (weights.clone().matmul(value), weights)
}

/// The weights half of [`scaled_dot_product_attention`]: `softmax(Q Kᵀ / √d_k + mask)`, for
/// callers that apply dropout to the weights before multiplying by `V` (multi-head attention).
///
/// # Shapes
/// - query: `[..., T_q, d_k]`, key: `[..., T_k, d_k]`, mask: `[..., T_q, T_k]`
/// - output: `[..., T_q, T_k]` (rows sum to 1)
pub fn attention_weights<const D: usize>(
    query: Tensor<D>,
    key: Tensor<D>,
    mask: Option<Tensor<D, Bool>>,
) -> Tensor<D> {
    let d_k = query.dims()[D - 1];
    let scores = query.matmul(key.transpose()) / (d_k as f64).sqrt(); // [..., T_q, T_k]
    let scores = match mask {
        Some(mask) => {
            let shape = scores.shape();
            scores.mask_fill(mask.expand(shape), MASKED_SCORE)
        }
        None => scores,
    };
    softmax(scores, D - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::{causal_mask, key_padding_mask, padding_mask};
    use crate::test_util::*;

    fn qkv(seed: u64) -> (Tensor<3>, Tensor<3>, Tensor<3>) {
        let mut r = rng(seed);
        (
            uniform3(&mut r, [2, 4, 3], -1.0, 1.0),
            uniform3(&mut r, [2, 5, 3], -1.0, 1.0),
            uniform3(&mut r, [2, 5, 2], 0.0, 1.0),
        )
    }

    #[test]
    fn known_values_by_hand() {
        let dev = device();
        // One query, two keys: scores q·k/√2 = [1/√2, 0].
        let q = Tensor::<2>::from_floats([[1.0, 1.0]], &dev);
        let k = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 0.0]], &dev);
        let v = Tensor::<2>::from_floats([[10.0], [20.0]], &dev);
        let (ctx, w) = scaled_dot_product_attention(q, k, v, None);
        let a = (1.0f64 / 2f64.sqrt()).exp();
        let (w0, w1) = (a / (a + 1.0), 1.0 / (a + 1.0));
        assert_close(
            &w,
            &Tensor::from_floats([[w0 as f32, w1 as f32]], &dev),
            1e-6,
            1e-6,
        );
        assert_close(
            &ctx,
            &Tensor::from_floats([[(10.0 * w0 + 20.0 * w1) as f32]], &dev),
            1e-6,
            1e-5,
        );
    }

    #[test]
    fn weights_sum_to_one_and_vanish_where_masked() {
        let (q, k, v) = qkv(40);
        let pad = padding_mask(&[5, 3], 5, &device()).unwrap();
        let mask = key_padding_mask(pad, 4);
        let (ctx, w) = scaled_dot_product_attention(q, k, v.clone(), Some(mask.clone()));
        assert_close(
            &w.clone().sum_dim(2),
            &Tensor::ones([2, 4, 1], &device()),
            0.0,
            1e-6,
        );
        let masked: Vec<f32> = host(&w.clone().mask_fill(mask.clone().bool_not(), 0.0));
        assert!(
            masked.iter().all(|&x| x == 0.0),
            "masked weights must be exactly 0"
        );
        // Each output is a convex combination of the unmasked values (all in [0, 1)).
        let c = host(&ctx);
        assert!(c.iter().all(|&x| (0.0..1.0).contains(&x)));
        // Causal: weights above the diagonal are exactly zero.
        let (q, k, v) = (v.clone(), v.clone(), v);
        let (_, w) = scaled_dot_product_attention(q, k, v, Some(causal_mask(2, 5, &device())));
        let above: Vec<f32> = host(&w.mask_fill(causal_mask(2, 5, &device()).bool_not(), 0.0));
        assert!(above.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn equals_burn_functional_attention() {
        let (q, k, v) = qkv(41);
        let pad = key_padding_mask(padding_mask(&[4, 2], 5, &device()).unwrap(), 4);
        let (ours, _) = scaled_dot_product_attention(
            q.clone().unsqueeze_dim::<4>(1),
            k.clone().unsqueeze_dim(1),
            v.clone().unsqueeze_dim(1),
            Some(pad.clone().unsqueeze_dim(1)),
        );
        let theirs = burn::tensor::module::attention(
            q.unsqueeze_dim::<4>(1),
            k.unsqueeze_dim(1),
            v.unsqueeze_dim(1),
            Some(pad.unsqueeze_dim(1)),
            None,
            Default::default(),
        );
        assert_close(&ours, &theirs, 0.0, 1e-5);
    }

    /// The seed's formula, read with a matrix product (with `⊙` it would not even be defined
    /// for these shapes): `(QKᵀ/√d_k) V`.
    fn seed_attention(q: Tensor<3>, k: Tensor<3>, v: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let d_k = q.dims()[2] as f64;
        let weights = q.matmul(k.transpose()) / d_k.sqrt();
        (weights.clone().matmul(v), weights)
    }

    #[test]
    fn seed_formula_without_softmax_is_not_a_convex_combination() {
        let (q, k, v) = qkv(42);
        let (ctx, w) = seed_attention(q.clone(), k.clone(), v.clone());
        // The "weights" do not sum to one…
        let sums = host(&w.clone().sum_dim(2));
        assert!(
            sums.iter().any(|s| (s - 1.0).abs() > 0.1),
            "row sums {sums:?}"
        );
        // …some are negative…
        assert!(host(&w).iter().any(|&x| x < 0.0));
        // …so an output leaves the convex hull of the values: values lie in [0, 1), the
        // output does not.
        let c = host(&ctx);
        assert!(c.iter().any(|&x| !(0.0..1.0).contains(&x)), "outputs {c:?}");
        // The correct formula stays inside it.
        let (ctx, w) = scaled_dot_product_attention(q, k, v, None);
        assert!(host(&ctx).iter().all(|&x| (0.0..1.0).contains(&x)));
        assert_close(
            &w.sum_dim(2),
            &Tensor::ones([2, 4, 1], &device()),
            0.0,
            1e-6,
        );
        // And with ⊙ the shapes do not even match: QKᵀ is [2, 4, 5], V is [2, 5, 2].
        assert_ne!([2, 4, 5], [2, 5, 2]);
    }

    #[test]
    fn causal_output_gradients_vanish_for_future_positions() {
        let mut r = rng(43);
        let x = uniform3(&mut r, [1, 5, 3], -1.0, 1.0);
        let mask = causal_mask(1, 5, &device());
        for t in 0..5 {
            let leaf = x.clone().autodiff().require_grad();
            let (ctx, _) = scaled_dot_product_attention(
                leaf.clone(),
                leaf.clone(),
                leaf.clone(),
                Some(mask.clone()),
            );
            let loss = ctx.slice(s![.., t, ..]).sum();
            let g = host(&leaf.grad(&loss.backward()).unwrap());
            for (i, gi) in g.iter().enumerate() {
                let position = i / 3;
                if position > t {
                    assert_eq!(*gi, 0.0, "output {t} depends on future input {position}");
                }
            }
            assert!(g[..3 * (t + 1)].iter().any(|&gi| gi != 0.0));
        }
    }
}
