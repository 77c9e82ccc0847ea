//! Key/value-cached generation against recomputing the prefix: the same GPT (the
//! shakespeare-gpt width, 4 blocks of 128, with a 1024-token context) generates N new tokens
//! both ways from the same seed; the tokens must be identical, and the time ratio is printed.
//!
//! ```sh
//! cargo run --release -p deepzero-sequence --example gpt_kv_cache          # 512 new tokens
//! cargo run --release -p deepzero-sequence --example gpt_kv_cache -- 128   # fewer (CI)
//! ```
use std::time::Instant;

use burn::prelude::*;
use deepzero_sequence::lm::{Gpt, GptConfig, Sampling, sampling};
use rand::rngs::StdRng;

/// [`Gpt::generate`] and [`Gpt::generate_recompute`], the two ways compared.
type Generate = fn(
    &Gpt,
    &[usize],
    usize,
    &Sampling,
    &mut StdRng,
    &Device,
) -> deepzero_sequence::Result<Vec<usize>>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let new_tokens: usize = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 512,
    };
    let device = Device::flex();
    device.seed(0);
    let model = GptConfig::new(65, 1024)
        .with_d_model(128)
        .with_n_layers(4)
        .with_n_heads(4)
        .init(&device)?;
    let prompt: Vec<usize> = (0..16).map(|i| (i * 7) % 65).collect();
    let sampling = Sampling::new(1.0, Some(20))?.with_top_p(Some(0.95))?;

    // Both ways from the same seed, so the tokens must be the same.
    let run = |generate: Generate| -> Result<(Vec<usize>, f64), Box<dyn std::error::Error>> {
        let start = Instant::now();
        let mut rng = sampling::rng(7);
        let tokens = generate(&model, &prompt, new_tokens, &sampling, &mut rng, &device)?;
        Ok((tokens, start.elapsed().as_secs_f64()))
    };
    let (cached, t_cached) = run(Gpt::generate)?;
    let (recomputed, t_recomputed) = run(Gpt::generate_recompute)?;

    if cached != recomputed {
        return Err("cached and recomputed generations differ".into());
    }
    println!(
        "{new_tokens} new tokens after a 16-token prompt: KV cache {t_cached:.2} s, recomputing the prefix {t_recomputed:.2} s, speed-up {:.1}x; tokens identical",
        t_recomputed / t_cached
    );
    Ok(())
}
