//! Loss functions with their hand-derived gradients (seed chapters 1.2.5 and 2.1).
//!
//! All losses are **means** over the elements (MSE, binary cross-entropy) or over the batch
//! (cross-entropy), like PyTorch's and burn's default `reduction = "mean"`. The `*_backward`
//! functions return `∂L/∂input` of that mean, so they include the `1/n`.
//!
//! | loss | value | gradient w.r.t. the input |
//! |---|---|---|
//! | MSE | `(1/n) Σ (p − t)²` | `2 (p − t) / n` |
//! | BCE from logits | `(1/n) Σ max(z, 0) − z y + log(1 + e^{−|z|})` | `(σ(z) − y) / n` |
//! | cross-entropy from logits | `(1/N) Σ_i −log softmax(z_i)_{y_i}` | `(softmax(z) − onehot(y)) / N` |
//!
//! The BCE form is the algebraic rewrite of `−[y log σ(z) + (1 − y) log(1 − σ(z))]` that never
//! evaluates `log 0` nor exponentiates a positive number; the cross-entropy uses log-softmax's
//! log-sum-exp trick. Both gradients collapse to "prediction minus target", which is why the seed's
//! `dZ = a − y` is right *only* for these matched pairs (see `docs/errata.md`).

use burn::tensor::{Int, Tensor};

use crate::activation::{log_softmax, sigmoid, softmax};

/// Number of elements of a tensor, as `f64` for scaling.
fn numel<const D: usize>(t: &Tensor<D>) -> f64 {
    t.dims().iter().product::<usize>() as f64
}

/// Mean squared error `(1/n) Σ (p − t)²` over all elements.
///
/// # Panics
/// If the shapes differ.
pub fn mse<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    (prediction - target).square().mean()
}

/// Gradient of [`mse`] with respect to the prediction: `2 (p − t) / n`.
pub fn mse_backward<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<D> {
    let n = numel(&prediction);
    (prediction - target).mul_scalar(2.0 / n)
}

/// Binary cross-entropy on logits `z` with targets `y ∈ [0, 1]` (soft labels allowed), averaged
/// over all elements.
///
/// `ℓ(z, y) = max(z, 0) − z·y + log(1 + e^{−|z|})`, which equals
/// `−[y log σ(z) + (1 − y) log(1 − σ(z))]` but stays finite for any `z`.
pub fn binary_cross_entropy_with_logits<const D: usize>(
    logits: Tensor<D>,
    targets: Tensor<D>,
) -> Tensor<1> {
    let relu = logits.clone().clamp_min(0.0);
    let softplus_neg_abs = logits.clone().abs().neg().exp().log1p();
    (relu - logits * targets + softplus_neg_abs).mean()
}

/// Gradient of [`binary_cross_entropy_with_logits`] with respect to the logits:
/// `(σ(z) − y) / n`.
///
/// Derivation: `∂ℓ/∂z = −y (1 − σ) + (1 − y) σ = σ − y`, using `σ' = σ (1 − σ)`.
pub fn binary_cross_entropy_with_logits_backward<const D: usize>(
    logits: Tensor<D>,
    targets: Tensor<D>,
) -> Tensor<D> {
    let n = numel(&logits);
    (sigmoid(logits) - targets).mul_scalar(1.0 / n)
}

/// Cross-entropy from logits `[N, C]` and integer class targets `[N]`, averaged over the batch:
/// `(1/N) Σ_i −log softmax(z_i)[y_i]`.
///
/// # Panics
/// If the batch sizes differ or a target is not below `C` (burn's gather checks it on some
/// backends only).
pub fn cross_entropy(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
    let [n] = targets.dims();
    let log_probs = log_softmax(logits, 1); // [N, C]
    let picked = log_probs.gather(1, targets.reshape([n, 1])); // [N, 1]
    picked.mean().neg()
}

/// Gradient of [`cross_entropy`] with respect to the logits: `(softmax(z) − onehot(y)) / N`.
///
/// Derivation: `−log softmax(z)_y = −z_y + log Σ_j e^{z_j}`, whose derivative in `z_k` is
/// `−δ_{ky} + softmax(z)_k`.
pub fn cross_entropy_backward(logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<2> {
    let [n, classes] = logits.dims();
    let one_hot: Tensor<2> = targets.one_hot::<2>(classes).float();
    (softmax(logits, 1) - one_hot).mul_scalar(1.0 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck::{GradCheck, check_against_autodiff};
    use crate::test_util::*;
    use burn::nn::loss::{
        BinaryCrossEntropyLossConfig, CrossEntropyLossConfig, MseLoss, Reduction,
    };

    #[test]
    fn mse_matches_burn_and_gradients() {
        let mut r = rng(1);
        let p = uniform2(&mut r, 3, 4, -2.0, 2.0);
        let t = uniform2(&mut r, 3, 4, -2.0, 2.0);
        let ours = mse(p.clone(), t.clone());
        let theirs = MseLoss::new().forward(p.clone(), t.clone(), Reduction::Mean);
        assert_close(&ours, &theirs, 1e-6, 1e-7);
        check_grad(
            |x| mse(x, t.clone()),
            &p,
            &mse_backward(p.clone(), t.clone()),
        );
    }

    #[test]
    fn mse_known_value() {
        let p = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &device());
        let t = Tensor::<1>::from_floats([1.0, 0.0, 6.0], &device());
        // (0 + 4 + 9) / 3
        assert_close_f64(
            mse(p.clone(), t.clone()).into_scalar::<f64>(),
            13.0 / 3.0,
            1e-6,
        );
        // 2(p − t)/3 = [0, 4/3, −2]
        assert_close(
            &mse_backward(p, t),
            &Tensor::<1>::from_floats([0.0, 4.0 / 3.0, -2.0], &device()),
            1e-6,
            1e-7,
        );
    }

    /// Checks the hand-derived gradient of the BCE with logits `z` and labels `y`.
    fn check_bce_gradient<const D: usize>(z: &Tensor<D>, y: &Tensor<D>) {
        let grad = binary_cross_entropy_with_logits_backward(z.clone(), y.clone());
        check_grad(|x| binary_cross_entropy_with_logits(x, y.clone()), z, &grad);
    }

    #[test]
    fn bce_matches_burn_and_gradients() {
        let mut r = rng(2);
        let z = uniform2(&mut r, 4, 3, -4.0, 4.0);
        let y_int = labels(&mut r, 12, 2).reshape([4, 3]);
        let y = y_int.clone().float();
        let ours = binary_cross_entropy_with_logits(z.clone(), y.clone());
        let theirs = BinaryCrossEntropyLossConfig::new()
            .with_logits(true)
            .init(&device())
            .forward(z.clone(), y_int);
        assert_close(&ours, &theirs, 1e-5, 1e-6);
        check_bce_gradient(&z, &y);
    }

    #[test]
    fn bce_soft_labels_gradient() {
        let mut r = rng(3);
        let z = uniform1(&mut r, 6, -3.0, 3.0);
        let y = uniform1(&mut r, 6, 0.0, 1.0);
        check_bce_gradient(&z, &y);
    }

    #[test]
    fn bce_is_stable_for_extreme_logits() {
        // Confidently wrong: loss ≈ |z|; confidently right: loss ≈ 0. The naive
        // −log(σ(z)) gives −log(0) = inf for z = −200 in f32.
        let z = Tensor::<1>::from_floats([200.0, -200.0, 200.0, -200.0], &device());
        let y = Tensor::<1>::from_floats([0.0, 1.0, 1.0, 0.0], &device());
        let loss = binary_cross_entropy_with_logits(z.clone(), y.clone()).into_scalar::<f64>();
        assert_close_f64(loss, 100.0, 1e-3);
        let g = host(&binary_cross_entropy_with_logits_backward(z, y));
        assert_eq!(g, vec![0.25, -0.25, 0.0, 0.0]);
    }

    #[test]
    fn cross_entropy_matches_burn_and_gradients() {
        let mut r = rng(4);
        let z = uniform2(&mut r, 5, 4, -3.0, 3.0);
        let y = labels(&mut r, 5, 4);
        let ours = cross_entropy(z.clone(), y.clone());
        let theirs = CrossEntropyLossConfig::new()
            .init(&device())
            .forward(z.clone(), y.clone());
        assert_close(&ours, &theirs, 1e-5, 1e-6);
        let grad = cross_entropy_backward(z.clone(), y.clone());
        check_grad(|x| cross_entropy(x, y.clone()), &z, &grad);
    }

    #[test]
    fn seed_dz_shortcut_holds_only_for_matched_pairs() {
        // Seed lines 110 and 394: dZ = a − y. With L = Σ ℓ (summed, as the seed's dW = xᵀdZ
        // implies) that is ∂L/∂z exactly for sigmoid + BCE and softmax + cross-entropy, but not
        // for, e.g., a sigmoid output with a squared error, where ∂L/∂z = (a − y) a (1 − a).
        let z = Tensor::<2>::from_floats([[0.3, -1.2], [2.0, 0.4]], &device());
        let y = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &device());
        let a = sigmoid(z.clone());
        let seed_dz = a.clone() - y.clone();
        let cfg = GradCheck::default();

        // Sigmoid + BCE (sum = 4 × mean): the shortcut is right.
        let bce = |t: Tensor<2>| binary_cross_entropy_with_logits(t, y.clone()) * 4.0;
        assert!(
            check_against_autodiff(bce, &z, &seed_dz, &cfg)
                .unwrap()
                .passed
        );

        // Softmax + cross-entropy (sum = N × mean, targets as indices): right again.
        let targets = Tensor::<1, Int>::from_ints([0, 1], &device());
        let probs = softmax(z.clone(), 1);
        let ce_dz = probs - targets.clone().one_hot::<2>(2).float();
        let ce = |t: Tensor<2>| cross_entropy(t, targets.clone()) * 2.0;
        assert!(check_against_autodiff(ce, &z, &ce_dz, &cfg).unwrap().passed);

        // Sigmoid + ½ Σ (a − y)²: the shortcut is wrong; the chain rule needs σ'(z).
        let sq = |t: Tensor<2>| (sigmoid(t) - y.clone()).square().sum() * 0.5;
        assert!(
            !check_against_autodiff(sq, &z, &seed_dz, &cfg)
                .unwrap()
                .passed
        );
        let right = seed_dz.clone() * a.clone() * (a.neg() + 1.0);
        assert!(check_against_autodiff(sq, &z, &right, &cfg).unwrap().passed);
    }

    #[test]
    fn cross_entropy_known_value_and_stability() {
        // Uniform logits over 4 classes: loss = log 4 whatever the target.
        let z = Tensor::<2>::zeros([2, 4], &device());
        let y = Tensor::<1, Int>::from_ints([0, 3], &device());
        assert_close_f64(cross_entropy(z, y).into_scalar::<f64>(), 4f64.ln(), 1e-6);
        // Huge logits stay finite: [1000, 1001] with target 0 costs log(1 + e).
        let z = Tensor::<2>::from_floats([[1000.0, 1001.0]], &device());
        let y = Tensor::<1, Int>::from_ints([0], &device());
        let loss = cross_entropy(z, y).into_scalar::<f64>();
        assert_close_f64(loss, (1.0 + std::f64::consts::E).ln(), 1e-4);
    }
}
