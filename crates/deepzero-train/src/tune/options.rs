//! How a person asks for a model search: [`TuneOptions`] (grid or random, the objective, the
//! trials' epochs), turned into the [`Search`] and the [`TunePlan`] that [`super::tune`] runs.
//!
//! With the `clap` feature it is the option group of `deepzero tune` (`--grid`, `--random`,
//! `--space`, `--objective` …).
//!
//! ```
//! use deepzero_train::FitConfig;
//! use deepzero_train::tune::{FIT_KEYS, TuneOptions};
//!
//! let options = TuneOptions {
//!     grid: Some("lr=1e-3,3e-3;batch-size=32,64".into()),
//!     ..TuneOptions::default()
//! };
//! let search = options.search(&FIT_KEYS, &FitConfig::default()).unwrap();
//! assert_eq!(options.plan(&search).unwrap().trials.len(), 4);
//! ```

use super::{Hyperparameter, Objective, Search, SearchSpace, TrialParams, TunePlan};
use crate::{FitConfig, TaskError};

/// The options of a model search; the training settings themselves are the run's own.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct TuneOptions {
    /// Grid search: every combination of KEY=V1,V2,…, keys separated by `;` (or by the comma
    /// before the next KEY=), e.g. 'lr=1e-3,3e-3;batch-size=32,64'. Keys: lr, batch-size,
    /// weight-decay, epochs, optimizer, schedule; dropout, word-dropout, max-len (text
    /// classifiers); image-size (image-folder).
    #[cfg_attr(
        feature = "clap",
        arg(long, value_name = "SPACE", conflicts_with = "random")
    )]
    pub grid: Option<String>,
    /// Random search: N configurations drawn from --space (seeded by --seed).
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub random: Option<usize>,
    /// What --random draws from: lists, ranges LOW..HIGH, log ranges log:LOW..HIGH [default:
    /// lr=log:LR/10..LR*10;batch-size=B/2,B,2B around the recipe's LR and B].
    #[cfg_attr(feature = "clap", arg(long, value_name = "SPACE", requires = "random"))]
    pub space: Option<String>,
    /// What trials are compared on, on the validation split: accuracy, loss, max:FIGURE or
    /// min:FIGURE (a figure under `valid` in metrics.json).
    #[cfg_attr(feature = "clap", arg(long, default_value = "accuracy"))]
    pub objective: String,
    /// Epochs of each trial (default: --epochs, else the recipe's); the best configuration is
    /// re-trained with --epochs. Trials stop early after --patience (default 2) epochs
    /// without a better validation loss.
    #[cfg_attr(feature = "clap", arg(long, value_name = "N"))]
    pub trial_epochs: Option<usize>,
    /// Do not re-train the best configuration into OUT/best.
    #[cfg_attr(feature = "clap", arg(long))]
    pub no_retrain: bool,
}

impl Default for TuneOptions {
    /// No search chosen yet, compared on accuracy, the best re-trained.
    fn default() -> Self {
        Self {
            grid: None,
            random: None,
            space: None,
            objective: "accuracy".into(),
            trial_epochs: None,
            no_retrain: false,
        }
    }
}

impl TuneOptions {
    /// The search these options ask for over the hyper-parameters `keys`; a random one
    /// without a space draws around `fit`'s learning rate and batch size, with `fit`'s seed.
    ///
    /// # Errors
    /// [`TaskError::Invalid`]: neither a grid nor a random search, or a space that does not
    /// parse.
    pub fn search(&self, keys: &[Hyperparameter], fit: &FitConfig) -> Result<Search, TaskError> {
        match (&self.grid, self.random) {
            (Some(text), _) => Ok(Search::Grid(SearchSpace::parse(text, keys)?)),
            (None, Some(trials)) => Ok(Search::Random {
                space: match &self.space {
                    Some(text) => SearchSpace::parse(text, keys)?,
                    None => SearchSpace::around(fit),
                },
                trials,
                seed: fit.seed,
            }),
            (None, None) => Err(TaskError::invalid(
                "tune needs --grid SPACE or --random N (e.g. --grid 'lr=1e-3,3e-3;batch-size=32,64')",
            )),
        }
    }

    /// The plan of `search` with these options' objective, trial epochs and re-training.
    ///
    /// # Errors
    /// [`TaskError::Invalid`]: zero trial epochs, an objective that does not parse, or
    /// [`Search::trials`]'.
    pub fn plan(&self, search: &Search) -> Result<TunePlan, TaskError> {
        if self.trial_epochs == Some(0) {
            return Err(TaskError::invalid("--trial-epochs must be at least 1"));
        }
        Ok(TunePlan {
            trial_epochs: self.trial_epochs,
            retrain_best: !self.no_retrain,
            ..TunePlan::search(search, Objective::parse(&self.objective)?)?
        })
    }
}

impl TrialParams {
    /// Refuses a trial that searches an option also given (`given`: each option's key and
    /// whether it is given), as two values for one setting are ambiguous.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] naming the first such option.
    pub fn refuse_given(&self, given: &[(&str, bool)]) -> Result<(), TaskError> {
        match given
            .iter()
            .find(|(key, given)| *given && self.get(key).is_some())
        {
            Some((key, _)) => Err(TaskError::invalid(format!(
                "--{key} is given and also searched; drop one"
            ))),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::FIT_KEYS;

    fn options(grid: Option<&str>, random: Option<usize>) -> TuneOptions {
        TuneOptions {
            grid: grid.map(Into::into),
            random,
            ..TuneOptions::default()
        }
    }

    #[test]
    fn a_search_is_required() {
        let e = options(None, None)
            .search(&FIT_KEYS, &FitConfig::default())
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("tune needs --grid SPACE or --random N")
        );
    }

    #[test]
    fn random_search_draws_around_the_fit_with_its_seed() {
        let fit = FitConfig {
            seed: 9,
            ..FitConfig::default()
        };
        let search = options(None, Some(3)).search(&FIT_KEYS, &fit).unwrap();
        assert_eq!(
            search,
            Search::Random {
                space: SearchSpace::around(&fit),
                trials: 3,
                seed: 9
            }
        );
        assert_eq!(search.trials().unwrap().len(), 3);
    }

    #[test]
    fn plan_takes_the_options() {
        let mut tune = options(Some("lr=1e-3,3e-3"), None);
        tune.trial_epochs = Some(2);
        tune.no_retrain = true;
        tune.objective = "loss".into();
        let search = tune.search(&FIT_KEYS, &FitConfig::default()).unwrap();
        let plan = tune.plan(&search).unwrap();
        assert_eq!((plan.trials.len(), plan.trial_epochs), (2, Some(2)));
        assert!(!plan.retrain_best);
        assert_eq!(plan.objective, Objective::loss());
        tune.trial_epochs = Some(0);
        let e = tune.plan(&search).unwrap_err();
        assert_eq!(e.to_string(), "--trial-epochs must be at least 1");
    }

    #[test]
    fn a_given_option_may_not_be_searched() {
        let trial = &SearchSpace::parse("lr=1e-3", &FIT_KEYS)
            .unwrap()
            .grid()
            .unwrap()[0];
        trial
            .refuse_given(&[("lr", false), ("batch-size", true)])
            .unwrap();
        let e = trial.refuse_given(&[("lr", true)]).unwrap_err();
        assert_eq!(e.to_string(), "--lr is given and also searched; drop one");
    }
}
