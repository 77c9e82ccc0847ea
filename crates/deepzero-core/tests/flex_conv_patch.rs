//! Flex's batch normalisation in training (statistics, output, gradients), and its 2-D
//! convolution and both of its gradients — the published crate, or the patched copy
//! in `patches/burn-flex` (per-image GEMMs over an im2col buffer, `src/ops/conv2d_gemm.rs`)
//! when the workspace `Cargo.toml` switches it on — against the definition summed term by term
//! in f64: the output, and the gradients autodiff computes for the input, the weight and the
//! bias, over strides, padding (asymmetric too), dilation, groups and batch sizes on both sides
//! of the thread count (the patch runs the images in parallel only from there).

use burn::prelude::*;
use burn::tensor::module::{batch_norm_train, conv2d};
use burn::tensor::ops::ConvOptions;
use proptest::prelude::*;

/// One convolution: input `[batch, channels, height, width]`, its options, and the values.
#[derive(Debug, Clone)]
struct Case {
    input: [usize; 4],
    out_channels: usize,
    groups: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
    seed: u64,
}

impl Case {
    fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.input[1] / self.groups,
            self.kernel[0],
            self.kernel[1],
        ]
    }

    fn output_shape(&self) -> [usize; 4] {
        let out = |axis: usize| {
            let (begin, end) = self.padding[axis];
            let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
            (self.input[2 + axis] + begin + end - span) / self.stride[axis] + 1
        };
        [self.input[0], self.out_channels, out(0), out(1)]
    }

    fn options(&self) -> ConvOptions<2> {
        ConvOptions::new_with_padding(self.stride, self.padding, self.dilation, self.groups)
    }
}

/// Values in [-1, 1) from a seeded LCG, so every case is reproducible from its seed.
fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Output and the gradients of `Σ y · r` for input, weight and bias: the definition, in f64.
struct Expected {
    y: Vec<f64>,
    dx: Vec<f64>,
    dw: Vec<f64>,
    db: Vec<f64>,
}

// Index loops on purpose: they spell out the definition, subscript by subscript.
#[allow(clippy::needless_range_loop)]
fn reference(case: &Case, x: &[f32], w: &[f32], b: &[f32], r: &[f32]) -> Expected {
    let [n, channels, h, wd] = case.input;
    let [o, cg, kh, kw] = case.weight_shape();
    let [_, _, oh, ow] = case.output_shape();
    let og = o / case.groups;
    let mut e = Expected {
        y: vec![0.0; n * o * oh * ow],
        dx: vec![0.0; x.len()],
        dw: vec![0.0; w.len()],
        db: vec![0.0; o],
    };
    for img in 0..n {
        for oc in 0..o {
            for oy in 0..oh {
                for ox in 0..ow {
                    let yi = ((img * o + oc) * oh + oy) * ow + ox;
                    let grad = f64::from(r[yi]);
                    let mut sum = f64::from(b[oc]);
                    for local in 0..cg {
                        let ic = oc / og * cg + local;
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (oy * case.stride[0] + i * case.dilation[0]) as isize
                                    - case.padding[0].0 as isize;
                                let ix = (ox * case.stride[1] + j * case.dilation[1]) as isize
                                    - case.padding[1].0 as isize;
                                if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                    continue;
                                }
                                let xi =
                                    ((img * channels + ic) * h + iy as usize) * wd + ix as usize;
                                let wi = ((oc * cg + local) * kh + i) * kw + j;
                                sum += f64::from(w[wi]) * f64::from(x[xi]);
                                e.dx[xi] += f64::from(w[wi]) * grad;
                                e.dw[wi] += f64::from(x[xi]) * grad;
                            }
                        }
                    }
                    e.y[yi] = sum;
                    e.db[oc] += grad;
                }
            }
        }
    }
    e
}

fn assert_close(what: &str, got: Tensor<1>, want: &[f64], case: &Case) {
    let got = got.into_data().try_to_vec::<f32>().expect("f32 values");
    assert_eq!(got.len(), want.len(), "{what}: length, {case:?}");
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (f64::from(g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
            "{what}[{k}] = {g}, want {w}; {case:?}"
        );
    }
}

fn assert_matches_reference(case: &Case) {
    let device = Device::flex().autodiff();
    let x = values(case.input.iter().product(), case.seed);
    let w = values(case.weight_shape().iter().product(), case.seed + 1);
    let b = values(case.out_channels, case.seed + 2);
    let r = values(case.output_shape().iter().product(), case.seed + 3);
    let expected = reference(case, &x, &w, &b, &r);

    let leaf = |values: &[f32]| {
        Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), &device)
            .detach()
            .require_grad()
    };
    let (xt, wt, bt) = (leaf(&x), leaf(&w), leaf(&b));
    let rt = Tensor::<1>::from_data(TensorData::new(r.clone(), [r.len()]), &device)
        .reshape(case.output_shape());
    let y = conv2d(
        xt.clone().reshape(case.input),
        wt.clone().reshape(case.weight_shape()),
        Some(bt.clone()),
        case.options(),
    );
    assert_eq!(y.dims(), case.output_shape(), "output shape, {case:?}");
    let grads = (y.clone() * rt).sum().backward();
    assert_close("y", y.reshape([-1]), &expected.y, case);
    assert_close("dx", xt.grad(&grads).expect("dx"), &expected.dx, case);
    assert_close("dw", wt.grad(&grads).expect("dw"), &expected.dw, case);
    assert_close("db", bt.grad(&grads).expect("db"), &expected.db, case);
}

#[test]
fn resnet_and_lenet_shapes() {
    let case = |input: [usize; 4], out_channels, kernel, stride, pad| Case {
        input,
        out_channels,
        groups: 1,
        kernel: [kernel, kernel],
        stride: [stride, stride],
        padding: [(pad, pad), (pad, pad)],
        dilation: [1, 1],
        seed: 7,
    };
    // ResNet-20's 3×3 and its strided 3×3 and 1×1 shortcut; LeNet's first two convolutions.
    assert_matches_reference(&case([6, 8, 10, 10], 8, 3, 1, 1));
    assert_matches_reference(&case([3, 8, 10, 10], 16, 3, 2, 1));
    assert_matches_reference(&case([3, 8, 10, 10], 16, 1, 2, 0));
    assert_matches_reference(&case([4, 1, 14, 14], 6, 5, 1, 0));
    assert_matches_reference(&case([1, 6, 9, 9], 16, 5, 1, 0));
    // A pointwise convolution (the image is its own im2col matrix).
    assert_matches_reference(&case([5, 7, 4, 6], 3, 1, 1, 0));
}

fn cases() -> impl Strategy<Value = Case> {
    (
        1usize..6,
        1usize..4,
        1usize..4,
        prop_oneof![Just(1usize), Just(2)],
        (1usize..4, 1usize..4),
        (1usize..3, 1usize..3),
        ((0usize..3, 0usize..3), (0usize..3, 0usize..3)),
        (1usize..3, 1usize..3),
        (1usize..8, 1usize..8),
        any::<u64>(),
    )
        .prop_filter_map(
            "the dilated kernel must fit the padded input",
            |(batch, cpg, opg, groups, kernel, stride, padding, dilation, size, seed)| {
                let kernel = [kernel.0, kernel.1];
                let dilation = [dilation.0, dilation.1];
                let padding = [padding.0, padding.1];
                let span = |axis: usize| dilation[axis] * (kernel[axis] - 1) + 1;
                let input = [batch, cpg * groups, size.0, size.1];
                let fits = (0..2).all(|a| input[2 + a] + padding[a].0 + padding[a].1 >= span(a));
                fits.then_some(Case {
                    input,
                    out_channels: opg * groups,
                    groups,
                    kernel,
                    stride: [stride.0, stride.1],
                    padding,
                    dilation,
                    seed,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_convolutions_equal_the_definition(case in cases()) {
        assert_matches_reference(&case);
    }
}

/// Batch normalisation with batch statistics (the patch computes it per channel in place of
/// burn's default tensor program): output, statistics and the gradients of `Σ y · r` against
/// the definition in f64, `∂x` through the Jacobian `γ/σ · (δ_ij − 1/M − x̂_i·x̂_j/M)`.
#[test]
fn batch_norm_training_equals_the_definition() {
    let device = Device::flex().autodiff();
    let [n, c, h, w] = [3, 4, 3, 5];
    let (spatial, eps) = (h * w, 1e-5);
    let m = (n * spatial) as f64;
    // An offset of 3 makes a one-pass variance lose digits; the definition does not.
    let x: Vec<f32> = values(n * c * spatial, 11)
        .iter()
        .map(|v| 4.0 * v + 3.0)
        .collect();
    let gamma: Vec<f32> = values(c, 12).iter().map(|v| v + 1.0).collect();
    let beta = values(c, 13);
    let r = values(n * c * spatial, 14);
    let leaf = |values: &[f32]| {
        Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), &device)
            .detach()
            .require_grad()
    };
    let (xt, gt, bt) = (leaf(&x), leaf(&gamma), leaf(&beta));
    let trained = batch_norm_train(
        xt.clone().reshape([n, c, h, w]),
        gt.clone(),
        bt.clone(),
        eps,
    );
    let rt = Tensor::<1>::from_data(TensorData::new(r.clone(), [r.len()]), &device);
    let y = trained.output.reshape([-1]);
    let grads = (y.clone() * rt).sum().backward();
    let read = |t: Tensor<1>| t.into_data().try_to_vec::<f32>().expect("f32");
    let (y, mean, variance) = (read(y), read(trained.mean), read(trained.variance));
    let (dx, dgamma, dbeta) = (
        read(xt.grad(&grads).expect("dx")),
        read(gt.grad(&grads).expect("dgamma")),
        read(bt.grad(&grads).expect("dbeta")),
    );
    let close = |what: &str, got: f32, want: f64| {
        assert!(
            (f64::from(got) - want).abs() <= 1e-4 * (1.0 + want.abs()),
            "{what}: {got} vs {want}"
        );
    };
    for ch in 0..c {
        let members: Vec<usize> = (0..n)
            .flat_map(|img| (0..spatial).map(move |p| (img * c + ch) * spatial + p))
            .collect();
        let value = |i: usize| f64::from(x[i]);
        let mu = members.iter().map(|&i| value(i)).sum::<f64>() / m;
        let var = members
            .iter()
            .map(|&i| (value(i) - mu).powi(2))
            .sum::<f64>()
            / m;
        let sigma = (var + eps).sqrt();
        let xhat = |i: usize| (value(i) - mu) / sigma;
        let g = f64::from(gamma[ch]);
        close("mean", mean[ch], mu);
        close("variance", variance[ch], var);
        close(
            "dbeta",
            dbeta[ch],
            members.iter().map(|&i| f64::from(r[i])).sum(),
        );
        let dg: f64 = members.iter().map(|&i| f64::from(r[i]) * xhat(i)).sum();
        close("dgamma", dgamma[ch], dg);
        for &i in &members {
            close("y", y[i], g * xhat(i) + f64::from(beta[ch]));
            let grad: f64 = members
                .iter()
                .map(|&j| {
                    let delta = if i == j { 1.0 } else { 0.0 };
                    f64::from(r[j]) * g / sigma * (delta - 1.0 / m - xhat(i) * xhat(j) / m)
                })
                .sum();
            close("dx", dx[i], grad);
        }
    }
}
