//! The recipes of this crate: named specs with the training settings they were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{FitConfig, Recipe};

use super::caption::CaptionSpec;
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
            LrSchedule::Cosine {
                min_lr_factor: 0.05,
            },
        ),
    )]
}

/// `scenes-caption` (cross-attention over the regions) and `scenes-caption-global` (one global
/// memory slot: no attention over the image), trained alike.
pub fn caption() -> Vec<Recipe<CaptionSpec>> {
    let fit = FitConfig::recipe(
        6,
        128,
        2e-3,
        OptimizerKind::Adam,
        LrSchedule::Cosine {
            min_lr_factor: 0.05,
        },
    );
    vec![
        Recipe::new(
            "scenes-caption",
            "6",
            "digit-scene captioner, Transformer decoder attending over CNN regions: BLEU-4, CIDEr-D",
            CaptionSpec::scenes_caption(),
            fit.clone(),
        ),
        Recipe::new(
            "scenes-caption-global",
            "6",
            "the same captioner reading one global image vector (no attention): the baseline",
            CaptionSpec::scenes_caption_global(),
            fit,
        ),
    ]
}
