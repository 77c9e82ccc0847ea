//! The recipe registry: every trainable thing `deepzero` knows, with the seed chapter it
//! implements, its default hyper-parameters, and the library task that runs it.
//!
//! A recipe is a library spec (`deepzero_vision::tasks::classify::ImageSpec`,
//! `deepzero_sequence::tasks::classify::ClassifySpec`, …) wrapped in a [`RecipeTask`](crate::RecipeTask): the one
//! place where command-line options meet a library call.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_train::FitConfig;
use deepzero_train::regression;
use deepzero_vision::tasks::recipes as vision;

use crate::error::CliError;
use crate::recipe::{Recipe, entry};
use crate::tasks::{
    BertClassifyTask, BertTagTask, CaptionTask, ClipTask, DetectTask, GenerateTask, GraphTask,
    ImageNetTask, ImageTask, PretrainTask, RecsysTask, RegressionTask, SegmentTask, TagTask,
    TextTask, TranslateTask,
};

/// Every recipe, in the order of the seed's chapters: the libraries' own, plus the imported
/// ImageNet models, the recommenders and the graphs.
pub fn all() -> Vec<Recipe> {
    use deepzero_sequence::tasks::recipes as text;
    let mut all: Vec<Recipe> = regression::recipes()
        .into_iter()
        .map(|r| entry(r, RegressionTask))
        .collect();
    all.extend(vision::recipes().into_iter().map(|r| entry(r, ImageTask)));
    let detection = deepzero_vision::tasks::detect::recipes();
    all.extend(detection.into_iter().map(|r| entry(r, DetectTask)));
    let (none, constant) = (0usize, LrSchedule::Constant);
    let plain = |name, chapter, summary, task| Recipe {
        name,
        chapter,
        summary,
        task,
        defaults: FitConfig::recipe(none, none, 0.0, OptimizerKind::Sgd, constant),
    };
    all.push(plain(
        "imagenet",
        "3.1",
        "torchvision ImageNet model with imported weights (deepzero import; predict only)",
        Box::new(ImageNetTask),
    ));
    all.extend(
        deepzero_vision::segment::task::recipes()
            .into_iter()
            .map(|r| entry(r, SegmentTask)),
    );
    all.extend(text::tag().into_iter().map(|r| entry(r, TagTask)));
    all.extend(text::classify().into_iter().map(|r| entry(r, TextTask)));
    all.extend(text::generate().into_iter().map(|r| entry(r, GenerateTask)));
    all.extend(
        text::translate()
            .into_iter()
            .map(|r| entry(r, TranslateTask)),
    );
    {
        use deepzero_sequence::pretrain::recipes as bert;
        all.extend(bert::pretrain().into_iter().map(|r| entry(r, PretrainTask)));
        all.extend(
            bert::finetune()
                .into_iter()
                .map(|r| entry(r, BertClassifyTask)),
        );
        all.extend(bert::ner().into_iter().map(|r| entry(r, BertTagTask)));
    }
    // Recommenders (chapter 5) and graphs (1.3.4): the libraries hold their recipes' settings.
    for &name in deepzero_recsys::tasks::RECIPES {
        let summary = deepzero_recsys::tasks::recipe_description(name)
            .unwrap_or("recommender on MovieLens-100k (docs/recsys.md)");
        all.push(plain(name, "5.1-5.4", summary, Box::new(RecsysTask(name))));
    }
    for name in deepzero_graph::tasks::RECIPES {
        let summary = deepzero_graph::tasks::recipe_description(name).unwrap_or("graph recipe");
        all.push(plain(name, "1.3.4", summary, Box::new(GraphTask(name))));
    }
    use deepzero_multimodal::tasks::recipes as multimodal;
    all.extend(multimodal::clip().into_iter().map(|r| entry(r, ClipTask)));
    all.extend(
        multimodal::caption()
            .into_iter()
            .map(|r| entry(r, CaptionTask)),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable() {
        let all = all();
        for r in &all {
            assert_eq!(find(r.name).unwrap().name, r.name);
            assert_eq!(all.iter().filter(|o| o.name == r.name).count(), 1);
        }
        let err = find("mnist-transformer").unwrap_err().to_string();
        assert!(err.contains("unknown recipe `mnist-transformer`"), "{err}");
        assert!(err.contains("mnist-lenet"));
    }
}
