//! Asking a trained run for items as a front end does: one [`RecommendQuery`] (a known user,
//! a new user's profile and rated items, or an item's neighbours) answered by
//! [`Predictor::answer`]; and how runs' reports and recommendations print.
//!
//! With the `clap` feature [`RecommendRequest`] (a recipe, its run and a [`RecommendQuery`])
//! is the option group of `deepzero recommend` and `deepzero similar-items`.

use std::fmt;
use std::path::PathBuf;

use burn::prelude::Device;
use serde::Serialize;

use crate::models::UserProfile;
use crate::tasks::{Predictor, Recommendation, TaskReport, parse_item_ids};
use crate::{RecsysError, Result};

/// Whom (or what) to recommend for, as text a user types.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RecommendQuery {
    /// The user to recommend for (`recommend`; an unknown user gets the most popular items).
    #[cfg_attr(feature = "clap", arg(long))]
    pub user: Option<u64>,
    /// A new user's gender, F or M (instead of --user; ml100k-coldstart runs).
    #[cfg_attr(feature = "clap", arg(long))]
    pub gender: Option<String>,
    /// A new user's age in years.
    #[cfg_attr(feature = "clap", arg(long))]
    pub age: Option<String>,
    /// A new user's occupation (as in the data set's u.user: student, writer, …).
    #[cfg_attr(feature = "clap", arg(long))]
    pub occupation: Option<String>,
    /// Items a new user rated, comma-separated item ids, oldest first.
    #[cfg_attr(feature = "clap", arg(long))]
    pub rated: Option<String>,
    /// The item to find neighbours of (`similar-items`).
    #[cfg_attr(feature = "clap", arg(long))]
    pub item: Option<u64>,
    /// How many items.
    #[cfg_attr(feature = "clap", arg(short, long, default_value_t = 10))]
    pub k: usize,
}

/// A query of the trained run of a recipe, as a front end takes it (with the `clap` feature,
/// the arguments of `deepzero recommend` and `deepzero similar-items`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RecommendRequest {
    /// Recipe name (ml100k-*).
    pub recipe: String,
    /// The run folder written by `deepzero train`.
    #[cfg_attr(feature = "clap", arg(long))]
    pub run: PathBuf,
    /// Whom or what to recommend for.
    #[cfg_attr(feature = "clap", command(flatten))]
    pub query: RecommendQuery,
}

impl RecommendRequest {
    /// Loads the run onto `device` ([`Predictor::load_recipe`]) and answers the query
    /// ([`Predictor::answer`]: the items most like `query.item` when `similar`).
    ///
    /// # Errors
    /// As [`Predictor::load_recipe`] and [`Predictor::answer`].
    pub fn answer(&self, similar: bool, device: &Device) -> Result<Answer> {
        let predictor = Predictor::load_recipe(&self.run, &self.recipe, device)?;
        predictor.answer(&self.query, similar)
    }
}

/// What [`Predictor::answer`] found: the items, best first, and a note on how they were
/// chosen when it is not what was asked (an unknown user gets the most popular items).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Answer {
    /// Best first.
    pub items: Vec<Recommendation>,
    /// Why the list is not the one asked for, if it is not.
    #[serde(skip)]
    pub note: Option<String>,
}

fn invalid(message: &str) -> RecsysError {
    RecsysError::InvalidArgument(message.into())
}

impl RecommendQuery {
    /// A new user's profile and rated items, when any of their fields is given.
    ///
    /// # Errors
    /// An age or an item list that does not parse, or a new user's fields with `user`.
    pub fn new_user(&self) -> Result<Option<(UserProfile, Vec<u64>)>> {
        let profile = UserProfile::parse(
            self.gender.as_deref(),
            self.age.as_deref(),
            self.occupation.as_deref(),
        )?;
        let rated = match &self.rated {
            Some(list) => parse_item_ids(list)?,
            None => Vec::new(),
        };
        if profile.is_empty() && self.rated.is_none() {
            return Ok(None);
        }
        if self.user.is_some() {
            return Err(invalid(
                "--user is a known user; a new user's --gender/--age/--occupation/--rated go without it",
            ));
        }
        Ok(Some((profile, rated)))
    }
}

impl Predictor {
    /// The items `query` asks for: the neighbours of `query.item` (`similar`), else a new
    /// user's recommendations, else a known user's.
    ///
    /// # Errors
    /// What is needed is missing (`--item` for `similar`, a user otherwise), or the query's
    /// values are not valid or not known to the run.
    pub fn answer(&self, query: &RecommendQuery, similar: bool) -> Result<Answer> {
        let answer = |items| Answer { items, note: None };
        if similar {
            let item = query
                .item
                .ok_or_else(|| invalid("similar-items needs --item ID"))?;
            return Ok(answer(self.similar_items(item, query.k)?));
        }
        if let Some((profile, rated)) = query.new_user()? {
            return Ok(answer(self.recommend_new_user(&profile, &rated, query.k)?));
        }
        let user = query.user.ok_or_else(|| {
            invalid("recommend needs --user ID or a new user's --gender/--age/--occupation/--rated")
        })?;
        let list = self.recommend(user, query.k);
        Ok(Answer {
            items: list.items,
            note: list.cold_start.then(|| {
                format!("user {user} is not in the run's data: the most popular items instead")
            }),
        })
    }
}

impl fmt::Display for Recommendation {
    /// `item<TAB>score<TAB>title` (the score to 4 decimals; no title: empty).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let title = self.title.as_deref().unwrap_or("");
        write!(f, "{}\t{:.4}\t{title}", self.item, self.score)
    }
}

impl fmt::Display for TaskReport {
    /// One line per figure the run measured, each starting with the recipe's name: k-fold
    /// RMSE/MAE, RMSE/MAE on a data folder, top-K figures against sampled negatives.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.recipe;
        if let Some(cv) = &self.rating {
            writeln!(
                f,
                "{name}: {}-fold RMSE {:.4} ± {:.4}, MAE {:.4}",
                cv.folds.len(),
                cv.rmse,
                cv.rmse_std,
                cv.mae
            )?;
        }
        if let Some(on_data) = &self.rating_on_data {
            writeln!(
                f,
                "{name}: RMSE {:.4}, MAE {:.4} over the {} ratings of the data folder (the saved model was fitted on every rating of its training data; 5-fold figures are in its metrics.json)",
                on_data.rmse, on_data.mae, on_data.n
            )?;
        }
        if let Some(rank) = &self.ranking {
            writeln!(
                f,
                "{name}: held-out item among 1 + {} negatives: {}",
                rank.negatives,
                serde_json::to_string(&rank.sampled).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use burn::prelude::Device;

    use super::*;
    use crate::data::{SyntheticConfig, generate, write_ml100k};
    use crate::tasks::{Protocol, TaskSpec, train};

    fn query(user: Option<u64>, k: usize) -> RecommendQuery {
        RecommendQuery {
            user,
            k,
            ..RecommendQuery::default()
        }
    }

    #[test]
    fn a_new_user_is_any_of_their_fields_and_never_with_a_known_user() {
        assert_eq!(query(Some(3), 5).new_user().unwrap(), None);
        let new = RecommendQuery {
            age: Some("25".into()),
            rated: Some("50, 181".into()),
            ..query(None, 5)
        };
        let (profile, rated) = new.new_user().unwrap().unwrap();
        assert_eq!((profile.age, rated), (Some(25), vec![50, 181]));
        let both = RecommendQuery {
            user: Some(1),
            ..new.clone()
        };
        let err = both.new_user().unwrap_err().to_string();
        assert!(err.contains("--user is a known user"), "{err}");
        let bad_age = RecommendQuery {
            age: Some("old".into()),
            ..query(None, 5)
        };
        assert!(bad_age.new_user().unwrap_err().to_string().contains("age"));
    }

    #[test]
    fn a_query_is_answered_as_the_predictor_answers_it_and_reports_print_by_line() {
        let tmp = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig {
            n_users: 30,
            n_items: 25,
            ratings_per_user: 8,
            ..Default::default()
        })
        .unwrap();
        write_ml100k(&tmp.path().join("data"), &data).unwrap();
        let mut spec = TaskSpec::recipe("ml100k-popularity").unwrap();
        if let Protocol::LeaveOneOut { negatives, .. } = &mut spec.protocol {
            *negatives = 5;
        }
        let (run, device) = (tmp.path().join("run"), Device::flex());
        let report = train(&spec, &tmp.path().join("data"), &run, &device).unwrap();
        let text = report.to_string();
        assert!(text.lines().count() >= 1, "{text}");
        assert!(text.lines().all(|l| l.starts_with("ml100k-popularity: ")));

        let p = Predictor::load(&run, &device).unwrap();
        let known = p.answer(&query(Some(1), 4), false).unwrap();
        assert_eq!((known.items, known.note), (p.recommend(1, 4).items, None));
        let unknown = p.answer(&query(Some(999_999), 3), false).unwrap();
        assert!(unknown.note.unwrap().contains("most popular"));
        let item = RecommendQuery {
            item: Some(1),
            ..query(None, 3)
        };
        let similar = p.answer(&item, true).unwrap();
        assert_eq!(similar.items, p.similar_items(1, 3).unwrap());
        for (q, similar, needle) in [
            (query(None, 3), false, "recommend needs --user ID"),
            (query(Some(1), 3), true, "similar-items needs --item ID"),
        ] {
            let err = p.answer(&q, similar).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
        let line = similar.items[0].to_string();
        assert_eq!(line.split('\t').count(), 3, "{line}");
        assert!(line.starts_with(&format!("{}\t", similar.items[0].item)));
    }
}
