//! The recipes of this crate: named specs with the training settings they were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::{FitConfig, Recipe};

use super::caption::CaptionSpec;
use super::clip::ClipSpec;
use super::content_rec::ContentRecSpec;
use super::vqa::VqaSpec;

/// How the scene models train: Adam at 2e-3, cosine decay to 5 % of it, for `epochs` epochs
/// of `batch_size`.
fn adam_cosine(epochs: usize, batch_size: usize) -> FitConfig {
    let schedule = LrSchedule::Cosine {
        min_lr_factor: 0.05,
    };
    FitConfig::recipe(epochs, batch_size, 2e-3, OptimizerKind::Adam, schedule)
}

/// `scenes-clip`: the CLIP-style joint embedding of captioned MNIST/Fashion-MNIST scenes.
pub fn clip() -> Vec<Recipe<ClipSpec>> {
    vec![Recipe::new(
        "scenes-clip",
        "6",
        "CLIP-style image/caption embedding of digit scenes: Recall@K both ways, zero-shot on held-out pairs",
        ClipSpec::scenes_clip(),
        adam_cosine(10, 128),
    )]
}

/// `scenes-caption` (cross-attention over the regions) and `scenes-caption-global` (one global
/// memory slot: no attention over the image), trained alike.
pub fn caption() -> Vec<Recipe<CaptionSpec>> {
    let fit = adam_cosine(6, 128);
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

/// `scenes-vqa` (question and image fused by stacked cross-attention over the regions), and
/// its baselines trained alike: `scenes-vqa-text` (the question alone) and `scenes-vqa-image`
/// (the image alone).
pub fn vqa() -> Vec<Recipe<VqaSpec>> {
    let fit = adam_cosine(8, 64);
    vec![
        Recipe::new(
            "scenes-vqa",
            "6",
            "digit-scene questions (how many, is there, what is left of) by cross-attention of the question over CNN regions",
            VqaSpec::scenes_vqa(),
            fit.clone(),
        ),
        Recipe::new(
            "scenes-vqa-text",
            "6",
            "the same questions answered from the question alone: the text baseline",
            VqaSpec::scenes_vqa_text(),
            fit.clone(),
        ),
        Recipe::new(
            "scenes-vqa-image",
            "6",
            "the same questions answered from the image alone: the image baseline",
            VqaSpec::scenes_vqa_image(),
            fit,
        ),
    ]
}

/// `ml100k-content-neumf`: NeuMF whose items are also their tags (genres, year, decade; the
/// title words are an option of the spec), so films nobody has rated yet are recommended (item
/// cold start against popularity).
pub fn content() -> Vec<Recipe<ContentRecSpec>> {
    vec![Recipe::new(
        "ml100k-content-neumf",
        "6",
        "NeuMF with item content (genres, year; titles optional): films nobody rated yet, HR@10 vs popularity",
        ContentRecSpec::ml100k(),
        FitConfig::recipe(10, 256, 1e-3, OptimizerKind::Adam, LrSchedule::Constant),
    )]
}
