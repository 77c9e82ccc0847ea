//! Flex's matrix product and new tensors — the published crate, or the patched copy in
//! `patches/burn-flex`, which allocates a product's output without zeroing it (gemm writes it
//! whole) and a zeroed tensor at its element's width — against a plain loop.
//!
//! This test binary's allocator fills every allocation that is not asked for zeroed with
//! `0xFF` bytes (a NaN in every float type), so that a product which read its output before
//! writing it, or a "zeroed" tensor that was not, shows.

use std::alloc::{GlobalAlloc, Layout, System};

use burn::prelude::*;
use burn::tensor::{DType, Int};
use proptest::prelude::*;

/// The system allocator, with uninitialised memory poisoned.
struct Poisoned;

// SAFETY: every call is forwarded to the system allocator; `alloc` only writes inside the
// block it returns.
unsafe impl GlobalAlloc for Poisoned {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout; the block holds `layout.size()` bytes.
        unsafe {
            let block = System.alloc(layout);
            if !block.is_null() {
                block.write_bytes(0xFF, layout.size());
            }
            block
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the block came from `System` with this layout.
        unsafe { System.dealloc(block, layout) }
    }
}

#[global_allocator]
static POISONED: Poisoned = Poisoned;

#[test]
fn the_allocator_poisons_uninitialised_memory() {
    let block: Vec<f32> = Vec::with_capacity(8);
    // SAFETY: reads the spare capacity as raw bits, which every f32 bit pattern is.
    let bits = unsafe { block.as_ptr().cast::<u32>().read() };
    assert_eq!(bits, u32::MAX);
}

/// `lhs [b, m, k] · rhs [b or 1, k, n]` in f64, row-major.
fn reference(lhs: &[f32], rhs: &[f32], [b, m, k, n]: [usize; 4], rhs_batches: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; b * m * n];
    for bi in 0..b {
        let rb = if rhs_batches == 1 { 0 } else { bi };
        for i in 0..m {
            for j in 0..n {
                let s: f64 = (0..k)
                    .map(|p| {
                        f64::from(lhs[(bi * m + i) * k + p]) * f64::from(rhs[(rb * k + p) * n + j])
                    })
                    .sum();
                out[(bi * m + i) * n + j] = s as f32;
            }
        }
    }
    out
}

fn values(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i + seed) * 7919 % 23) as f32 - 11.0) / 8.0)
        .collect()
}

/// One product through Flex, the right-hand side optionally stored transposed.
fn product(dims: [usize; 4], rhs_batches: usize, rhs_transposed: bool) -> (Vec<f32>, Vec<f32>) {
    let [b, m, k, n] = dims;
    let device = Device::flex();
    let lhs = values(b * m * k, 1);
    let rhs = values(rhs_batches * k * n, 2);
    let expected = reference(&lhs, &rhs, dims, rhs_batches);
    let lhs_t = Tensor::<3>::from_data(TensorData::new(lhs, [b, m, k]), &device);
    let rhs_t = if rhs_transposed {
        // The same matrix, stored [n, k] and viewed as [k, n] (strided, not contiguous).
        let stored: Vec<f32> = (0..rhs_batches * n * k)
            .map(|i| {
                let (rb, rest) = (i / (n * k), i % (n * k));
                rhs[(rb * k + rest % k) * n + rest / k]
            })
            .collect();
        Tensor::<3>::from_data(TensorData::new(stored, [rhs_batches, n, k]), &device)
            .swap_dims(1, 2)
    } else {
        Tensor::<3>::from_data(TensorData::new(rhs, [rhs_batches, k, n]), &device)
    };
    let got = lhs_t.matmul(rhs_t);
    assert_eq!(got.dims(), [b, m, n]);
    (got.into_data().try_to_vec::<f32>().unwrap(), expected)
}

fn assert_product(dims: [usize; 4], rhs_batches: usize, rhs_transposed: bool) {
    let (got, expected) = product(dims, rhs_batches, rhs_transposed);
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (g - e).abs() <= 1e-4 * (1.0 + e.abs()),
            "{dims:?} (rhs batches {rhs_batches}, transposed {rhs_transposed}) at {i}: {g} vs {e}"
        );
    }
}

#[test]
fn two_d_and_batched_products_of_the_sizes_the_models_use() {
    // The LSTM's projection and weight gradient, a Transformer's attention scores, and a
    // batch large enough for Flex's parallel batch loop.
    for (dims, rhs_batches) in [
        ([1, 256, 128, 1024], 1),
        ([1, 128, 256, 64], 1),
        ([8, 64, 32, 64], 8),
        ([32, 64, 16, 48], 1),
    ] {
        assert_product(dims, rhs_batches, false);
        assert_product(dims, rhs_batches, true);
    }
}

#[test]
fn an_empty_inner_dimension_gives_zeros() {
    for (dims, rhs_batches) in [([1, 5, 0, 7], 1), ([3, 4, 0, 6], 3), ([3, 4, 0, 6], 1)] {
        let (got, _) = product(dims, rhs_batches, false);
        assert!(got.iter().all(|&v| v == 0.0), "{dims:?}: {got:?}");
    }
}

#[test]
fn new_tensors_of_every_width_are_zero_and_read_back() {
    let device = Device::flex();
    let n = 4099;
    let f32s = Tensor::<1>::zeros([n], &device).into_data();
    assert!(f32s.try_to_vec::<f32>().unwrap().iter().all(|&v| v == 0.0));
    let f64s = Tensor::<1>::zeros([n], (&device, DType::F64)).into_data();
    assert!(f64s.try_to_vec::<f64>().unwrap().iter().all(|&v| v == 0.0));
    let f16s = Tensor::<1>::zeros([n], (&device, DType::F16)).into_data();
    assert!(
        f16s.convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap()
            .iter()
            .all(|&v| v == 0.0)
    );
    let ints = Tensor::<1, Int>::zeros([n], &device).into_data();
    assert!(
        ints.convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap()
            .iter()
            .all(|&v| v == 0)
    );
    let bools = Tensor::<1, Int>::zeros([n], &device)
        .equal_elem(1)
        .into_data();
    assert!(bools.try_to_vec::<bool>().unwrap().iter().all(|&v| !v));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn products_equal_the_plain_loop(
        b in 1..4usize,
        m in 1..20usize,
        k in 0..20usize,
        n in 1..20usize,
        shared_rhs in any::<bool>(),
        transposed in any::<bool>(),
    ) {
        let rhs_batches = if shared_rhs { 1 } else { b };
        let (got, expected) = product([b, m, k, n], rhs_batches, transposed);
        for (g, e) in got.iter().zip(&expected) {
            prop_assert!((g - e).abs() <= 1e-4 * (1.0 + e.abs()), "{g} vs {e}");
        }
    }
}
