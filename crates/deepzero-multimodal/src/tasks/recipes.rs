//! The recipes of this crate: named specs with the training settings they were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{FitConfig, Recipe};

use super::clip::ClipSpec;

/// `scenes-clip`: the CLIP-style joint embedding of captioned MNIST/Fashion-MNIST scenes.
pub fn clip() -> Vec<Recipe<ClipSpec>> {
    vec![Recipe::new(
        "scenes-clip",
        "6",
        "CLIP-style image/caption embedding of digit scenes: Recall@K both ways, zero-shot on held-out pairs",
        ClipSpec::scenes_clip(),
        FitConfig::recipe(
            10,
            128,
            2e-3,
            OptimizerKind::Adam,
            LrSchedule::Cosine { min_lr_factor: 0.05 },
        ),
    )]
}
