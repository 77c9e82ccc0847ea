//! Settings of mimalloc for programs that make it their global allocator (the `deepzero` and
//! `xtask` binaries do; a library never chooses the allocator). Behind the `mimalloc` feature.
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
//!
//! fn main() {
//!     deepzero_train::allocator::keep_freed_memory();
//!     // ...
//! }
//! ```
//!
//! A training step frees and re-allocates the same tensor-sized buffers every step. By default
//! mimalloc (v3) hands memory that stayed free for 1 s back to the kernel ("purging"), so on
//! models whose steps take seconds every step page-faults its activations in again, and the
//! kernel zeroes each page first: 14 % of the samples in a profile of `fashion-googlenet`, whose
//! steps take 6–8 s. Never purging took that run from 15 to 19 samples/s on one thread
//! (docs/benchmarks.md). The cost is that the process keeps its peak memory until it exits,
//! which is what a training run needs anyway.

use std::ffi::{c_int, c_long};

// Links mimalloc's C library (with the functions below) into every program that enables the
// feature, tests included.
use mimalloc as _;

unsafe extern "C" {
    // From mimalloc.h, linked by the `mimalloc` crate.
    fn mi_option_set(option: c_int, value: c_long);
    fn mi_option_get(option: c_int) -> c_long;
}

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (v2 and v3: the 16th entry).
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Tells mimalloc never to return freed memory to the kernel (`purge_delay = -1`). Call it
/// first thing in `main`; it changes nothing but the allocator's policy.
pub fn keep_freed_memory() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option table.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// mimalloc's current purge delay in milliseconds (−1: never).
#[allow(clippy::useless_conversion)] // `c_long` is `i32` on Windows
pub fn purge_delay_ms() -> i64 {
    // SAFETY: reads mimalloc's option table (initialising it from the environment once).
    i64::from(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_freed_memory_turns_purging_off() {
        // 1000 ms is v3's documented default of purge_delay and of no neighbouring option,
        // so this also checks that index 15 is the purge delay.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(purge_delay_ms(), 1000);
        }
        keep_freed_memory();
        assert_eq!(purge_delay_ms(), -1);
    }
}
