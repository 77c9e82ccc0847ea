//! Model selection for the MNIST LeNet-5 through the library, on the shipped sample: a
//! learning-rate range test, then a grid search over the learning rate and the batch size
//! (trials compared on the validation split; the best re-trained and tested).
//!
//! ```text
//! cargo run --release -p deepzero-vision --example tune_mnist [-- OUT]
//! ```
//! Writes OUT/lr-find (lr_find.png, .csv) and OUT/tune (results.md, tune.png, best/);
//! OUT defaults to a temporary folder. About 4 s on 2 cores.

use deepzero_data::IdxCorpus;
use deepzero_train::lr_find::LrFindConfig;
use deepzero_train::tune::{
    self, FIT_KEYS, Objective, Search, SearchSpace, TrialOutcome, TunePlan,
};
use deepzero_train::{FitConfig, RunSettings};
use deepzero_vision::Architecture;
use deepzero_vision::tasks::classify::{self, ImageSpec};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    // 100 training images a class keep every trial to a few seconds.
    let spec = ImageSpec {
        per_class: Some(100),
        ..ImageSpec::idx(IdxCorpus::Mnist, Architecture::LeNet5)
    };
    let fit = FitConfig {
        epochs: 3,
        batch_size: 32,
        ..FitConfig::default()
    };
    let mut settings = RunSettings::new("mnist-lenet", out.join("lr-find")).with_fit(fit);
    settings.quiet = true;
    settings.overwrite = true;

    // 1. Where does the loss fall fastest, and where does it blow up?
    let found = deepzero_vision::tasks::lr_find::lr_find(
        &spec,
        &settings,
        &LrFindConfig::from_fit(&settings.fit),
    )?;
    println!("range test: suggested lr {:.1e}", found.suggested_lr);

    // 2. A grid around the suggestion, trials of 2 epochs; the best re-trained for 3.
    let lr = found.suggested_lr;
    let text = format!("lr={:.1e},{:.1e};batch-size=32,64", lr / 3.0, lr * 3.0);
    let search = Search::Grid(SearchSpace::parse(&text, &FIT_KEYS)?);
    let plan = TunePlan {
        trial_epochs: Some(2),
        ..TunePlan::search(&search, Objective::accuracy())?
    };
    settings.out = out.join("tune");
    let report = tune::tune(&plan, &settings, |_, trial| {
        classify::train(&spec, trial)?;
        TrialOutcome::from_run_folder(&trial.out, &Objective::accuracy())
    })?;
    // `tune` printed its summary; the report holds every trial.
    let best = report.best_record();
    println!("best of {} trials: {}", report.trials.len(), best.params);
    println!("table: {}", settings.out.join("results.md").display());
    Ok(())
}
