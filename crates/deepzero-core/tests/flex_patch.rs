//! Flex's max pooling — the published crate, or the patched copy in `patches/burn-flex` when the
//! workspace `Cargo.toml` switches it on — against a plain reference loop: the same values and the same indices, with PyTorch's rules
//! (padding never wins, ties keep the first maximum in row-major window order, NaN propagates,
//! indices point into the unpadded input plane).

use burn::prelude::*;
use burn::tensor::module::max_pool2d_with_indices;
use burn::tensor::ops::MaxPoolOptions;
use proptest::prelude::*;

/// One pooling problem: an input `[batch, channels, height, width]` and the options.
#[derive(Debug, Clone)]
struct Case {
    dims: [usize; 4],
    values: Vec<f32>,
    kernel: [usize; 2],
    stride: [usize; 2],
    padding: [usize; 2],
    dilation: [usize; 2],
    ceil_mode: bool,
}

/// The output length along one axis, PyTorch's formula (a ceil-mode window must start inside
/// the input or its left padding).
fn output_len(
    input: usize,
    kernel: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
    ceil: bool,
) -> usize {
    let span = input + 2 * pad - dilation * (kernel - 1) - 1;
    let mut out = if ceil {
        span.div_ceil(stride) + 1
    } else {
        span / stride + 1
    };
    if ceil && (out - 1) * stride >= input + pad {
        out -= 1;
    }
    out
}

/// The reference: every output position scans its window in row-major order.
fn reference(case: &Case) -> (Vec<usize>, Vec<f32>, Vec<i64>) {
    let [n, c, h, w] = case.dims;
    let out_h = output_len(
        h,
        case.kernel[0],
        case.stride[0],
        case.padding[0],
        case.dilation[0],
        case.ceil_mode,
    );
    let out_w = output_len(
        w,
        case.kernel[1],
        case.stride[1],
        case.padding[1],
        case.dilation[1],
        case.ceil_mode,
    );
    let (mut values, mut indices) = (Vec::new(), Vec::new());
    for plane in case.values.chunks(h * w).take(n * c) {
        for oh in 0..out_h {
            for ow in 0..out_w {
                let mut best: Option<(f32, i64)> = None;
                for kh in 0..case.kernel[0] {
                    for kw in 0..case.kernel[1] {
                        let ih = (oh * case.stride[0] + kh * case.dilation[0]) as isize
                            - case.padding[0] as isize;
                        let iw = (ow * case.stride[1] + kw * case.dilation[1]) as isize
                            - case.padding[1] as isize;
                        if ih < 0 || iw < 0 || ih >= h as isize || iw >= w as isize {
                            continue;
                        }
                        let index = ih as usize * w + iw as usize;
                        let value = plane[index];
                        let wins = match best {
                            None => true,
                            Some((max, _)) => value > max || value.is_nan(),
                        };
                        if wins {
                            best = Some((value, index as i64));
                        }
                    }
                }
                let (value, index) = best.expect("every window overlaps the input");
                values.push(value);
                indices.push(index);
            }
        }
    }
    (vec![n, c, out_h, out_w], values, indices)
}

/// What burn (the patched Flex backend) computes for the case.
fn pooled(case: &Case) -> (Vec<usize>, Vec<f32>, Vec<i64>) {
    let device = Device::flex();
    let x = Tensor::<4>::from_data(TensorData::new(case.values.clone(), case.dims), &device);
    let options = MaxPoolOptions {
        kernel_size: case.kernel,
        stride: case.stride,
        padding: case.padding.map(|p| (p, p)),
        dilation: case.dilation,
        ceil_mode: case.ceil_mode,
    };
    let (values, indices) = max_pool2d_with_indices(x, options);
    let dims = values.dims().to_vec();
    let values = values
        .into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap();
    let indices = indices
        .into_data()
        .convert::<i64>()
        .try_to_vec::<i64>()
        .unwrap();
    (dims, values, indices)
}

fn assert_matches_reference(case: &Case) {
    let (ref_dims, ref_values, ref_indices) = reference(case);
    let (dims, values, indices) = pooled(case);
    assert_eq!(dims, ref_dims, "{case:?}");
    assert_eq!(indices, ref_indices, "{case:?}");
    for (got, want) in values.iter().zip(&ref_values) {
        assert!(
            got == want || (got.is_nan() && want.is_nan()),
            "{got} vs {want}: {case:?}"
        );
    }
}

#[test]
fn lenet_pooling_with_ties_keeps_the_first_maximum() {
    // 2×2 windows of a 4×4 plane full of ties: the first (top-left) position must win.
    let values = (0..32).map(|i| (i % 3) as f32).collect();
    let case = Case {
        dims: [1, 2, 4, 4],
        values,
        kernel: [2, 2],
        stride: [2, 2],
        padding: [0, 0],
        dilation: [1, 1],
        ceil_mode: false,
    };
    assert_matches_reference(&case);
}

#[test]
fn nan_wins_and_padding_never_does() {
    let mut values: Vec<f32> = (0..25).map(|i| -(i as f32)).collect();
    values[12] = f32::NAN;
    let case = Case {
        dims: [1, 1, 5, 5],
        values,
        kernel: [3, 3],
        stride: [2, 2],
        padding: [1, 1],
        dilation: [1, 1],
        ceil_mode: true,
    };
    assert_matches_reference(&case);
    let (_, values, _) = pooled(&case);
    assert!(
        values.iter().any(|v| v.is_nan()),
        "the NaN must propagate: {values:?}"
    );
}

/// Random shapes and options whose every window overlaps the input (as PyTorch requires:
/// padding at most half the kernel).
fn cases() -> impl Strategy<Value = Case> {
    (
        1..3usize,
        1..4usize,
        1..4usize,
        1..4usize,
        1..3usize,
        1..3usize,
        any::<bool>(),
    )
        .prop_flat_map(|(n, c, k, s, d, pad_num, ceil_mode)| {
            let padding = (k / 2).min(pad_num - 1);
            let min_side = d * (k - 1) + 1;
            (min_side..min_side + 7, min_side..min_side + 7).prop_flat_map(move |(h, w)| {
                // Small integers: many ties, so the tie rule is exercised.
                proptest::collection::vec((-4i8..5).prop_map(f32::from), n * c * h * w).prop_map(
                    move |values| Case {
                        dims: [n, c, h, w],
                        values,
                        kernel: [k, k.max(2) - 1 + (h % 2)],
                        stride: [s, s.max(2) - 1],
                        padding: [padding, 0],
                        dilation: [d, 1],
                        ceil_mode,
                    },
                )
            })
        })
        .prop_filter("every window fits", |case| {
            case.dims[3] >= case.kernel[1] && case.kernel[0] / 2 >= case.padding[0]
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn max_pool2d_matches_the_reference_loop(case in cases()) {
        assert_matches_reference(&case);
    }
}
