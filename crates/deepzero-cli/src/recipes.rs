//! The recipe registry: every trainable thing `deepzero` knows, with the seed chapter it
//! implements, its default hyper-parameters, and the library task that runs it.
//!
//! A recipe is a library spec (`deepzero_vision::tasks::classify::ImageSpec`,
//! `deepzero_sequence::tasks::classify::ClassifySpec`, …) wrapped in a [`RecipeTask`](crate::RecipeTask): the one
//! place where command-line options meet a library call.

use deepzero_graph::tasks as graph;
use deepzero_recsys::tasks as recsys;
use deepzero_train::regression;
use deepzero_vision::tasks::{classify, rcnn, recipes as vision};

use crate::args::Family;
use crate::error::CliError;
use crate::recipe::{Recipe, specs, wrap};
use crate::tasks::{
    BertClassifyTask, BertTagTask, GenerateTask, GraphTask, ImageNetTask, ImageTask, PretrainTask,
    RecsysTask, SegmentTask, TextTask, TranslateTask, detect, multimodal, predict_tags, segment,
};

/// Every recipe, in the order of the seed's chapters: the libraries' own, plus the imported
/// ImageNet models, the recommenders and the graphs.
pub fn all() -> Vec<Recipe> {
    use deepzero_multimodal::tasks::recipes as image_text;
    use deepzero_sequence::pretrain::recipes as bert;
    use deepzero_sequence::tasks::recipes as text;
    let regression_predict = crate::tasks::regression::predict;
    let mut all: Vec<Recipe> = specs(
        regression::recipes(),
        Family::Regression,
        regression_predict,
    )
    .collect();
    all.extend(wrap(vision::recipes(), ImageTask));
    let detection = deepzero_vision::tasks::detect::recipes();
    all.extend(specs(detection, Family::Detection, detect::predict));
    all.extend(specs(rcnn::recipes(), Family::Detection, detect::predict));
    let photos = deepzero_vision::tasks::detect_photos::recipes();
    all.extend(specs(photos, Family::Detection, detect::predict));
    all.extend(wrap(vec![classify::imagenet_recipe()], |()| ImageNetTask));
    all.extend(wrap(deepzero_vision::segment::task::recipes(), SegmentTask));
    let voc_segment = vec![deepzero_vision::segment::import::recipe()];
    all.extend(specs(voc_segment, Family::Image, segment::predict));
    all.extend(specs(text::tag(), Family::Tagging, predict_tags));
    all.extend(wrap(text::classify(), TextTask));
    all.extend(wrap(text::generate(), GenerateTask));
    all.extend(wrap(text::translate(), TranslateTask));
    all.extend(wrap(bert::pretrain(), PretrainTask));
    all.extend(wrap(bert::finetune(), BertClassifyTask));
    all.extend(wrap(bert::ner(), BertTagTask));
    // Recommenders (chapter 5) and graphs (1.3.4): the libraries hold their recipes' settings.
    all.extend(wrap(recsys::recipes(), RecsysTask));
    all.extend(wrap(graph::recipes(), GraphTask));
    use multimodal::{predict_caption as caption, predict_clip as clip, predict_vqa as vqa};
    all.extend(specs(
        image_text::content(),
        Family::Recsys,
        multimodal::predict_content,
    ));
    all.extend(specs(image_text::clip(), Family::Multimodal, clip));
    all.extend(specs(image_text::caption(), Family::Multimodal, caption));
    all.extend(specs(image_text::vqa(), Family::Multimodal, vqa));
    all
}

/// Looks a recipe up by name.
pub fn find(name: &str) -> Result<Recipe, CliError> {
    all().into_iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|r| r.name).collect();
        CliError::Usage(format!(
            "unknown recipe `{name}` (run `deepzero list`; known: {})",
            names.join(", ")
        ))
    })
}
