//! Cold start from side features: a hybrid factor model in the spirit of LightFM (Kula 2015)
//! that represents a user by the features they declared (gender, age band, occupation) and,
//! when there are any, the few items they rated, so a user with no or ≤ 5 ratings still gets
//! a personal ranking.
//!
//! `u = Σ_{f ∈ F(u)} e_f + |H(u)|^{−½} Σ_{h ∈ H(u)} w_h`,
//! `v_i = q_i + Σ_{g ∈ G(i)} e'_g`,
//! `x̂_ui = b_i + Σ_{g ∈ G(i)} b'_g + uᵀ v_i`,
//!
//! with `F(u)` the user's feature ids, `G(i)` the item's (genres, decade of release), `H(u)`
//! up to `max_history` items the user rated. Trained by BPR (Rendle et al. 2009) on sampled
//! triples `(u, i, j)`: ascend `ln σ(x̂_ui − x̂_uj) − λ‖Θ‖²` by SGD. During training `H(u)` is
//! a fresh random draw of at most `max_history` of the user's *other* training items, so the
//! model learns to work from a handful of ratings, as a new user has; at prediction time it is
//! the user's latest `max_history` training items. No parameter belongs to a user, so a user
//! absent from training is scored from their features alone.
//!
//! With `first_ratings = n`, the positives (and the histories) are only each user's `n`
//! earliest ratings: the model learns what users rate while they are new, which is the
//! situation it serves (on ml-100k a new user's early ratings lean far more to popular films
//! than the rest of their history).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{Recommender, dot, normal_matrix};
use crate::data::{Csr, Interactions, NegativeSampler, RatingsDataset, user_sequences};
use crate::error::{RecsysError, Result};

/// Users' and items' side features as ids into two vocabularies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SideFeatures {
    /// Names of the user features (`gender:F`, `age:25-34`, `occupation:writer`, …).
    pub user_vocab: Vec<String>,
    /// Names of the item features (`genre:Comedy`, `decade:1990`, …).
    pub item_vocab: Vec<String>,
    /// Each user's feature ids (empty when the data set had no row for them).
    pub user: Vec<Vec<u32>>,
    /// Each item's feature ids.
    pub item: Vec<Vec<u32>>,
}

/// MovieLens' age bands (those of ml-1m's `users.dat`).
pub fn age_band(age: u32) -> &'static str {
    match age {
        0..=17 => "under-18",
        18..=24 => "18-24",
        25..=34 => "25-34",
        35..=44 => "35-44",
        45..=49 => "45-49",
        50..=55 => "50-55",
        _ => "56+",
    }
}

fn intern(vocab: &mut Vec<String>, name: String) -> u32 {
    match vocab.iter().position(|v| *v == name) {
        Some(k) => k as u32,
        None => {
            vocab.push(name);
            (vocab.len() - 1) as u32
        }
    }
}

impl SideFeatures {
    /// The user-feature ids of `profile`, each looked up (case-insensitively) in the
    /// vocabulary the model was trained with.
    ///
    /// # Errors
    /// A value the training data never had (the message lists the known ones).
    pub fn user_feature_ids(&self, profile: &UserProfile) -> Result<Vec<u32>> {
        let parts = [
            ("gender", profile.gender.clone()),
            ("age", profile.age.map(|a| age_band(a).to_string())),
            ("occupation", profile.occupation.clone()),
        ];
        let mut ids = Vec::new();
        for (kind, value) in parts {
            let Some(value) = value else { continue };
            let prefix = format!("{kind}:");
            let known: Vec<(usize, &str)> = self
                .user_vocab
                .iter()
                .enumerate()
                .filter_map(|(k, v)| v.strip_prefix(&prefix).map(|name| (k, name)))
                .collect();
            match known
                .iter()
                .find(|(_, name)| name.eq_ignore_ascii_case(&value))
            {
                Some(&(k, _)) => ids.push(k as u32),
                None => {
                    let mut names: Vec<&str> = known.iter().map(|(_, n)| *n).collect();
                    names.sort_unstable();
                    return Err(RecsysError::InvalidArgument(format!(
                        "{kind} {value:?} is not one the model knows ({})",
                        names.join(", ")
                    )));
                }
            }
        }
        Ok(ids)
    }

    /// Gender, age band and occupation of each user; genres and decade of each item.
    pub fn from_dataset(data: &RatingsDataset) -> SideFeatures {
        let mut out = SideFeatures::default();
        for info in &data.users {
            let ids = match info {
                Some(u) => vec![
                    intern(&mut out.user_vocab, format!("gender:{}", u.gender)),
                    intern(&mut out.user_vocab, format!("age:{}", age_band(u.age))),
                    intern(&mut out.user_vocab, format!("occupation:{}", u.occupation)),
                ],
                None => Vec::new(),
            };
            out.user.push(ids);
        }
        for info in &data.items {
            let mut ids = Vec::new();
            if let Some(it) = info {
                for g in &it.genres {
                    ids.push(intern(&mut out.item_vocab, format!("genre:{g}")));
                }
                if let Some(y) = it.year {
                    ids.push(intern(
                        &mut out.item_vocab,
                        format!("decade:{}", y / 10 * 10),
                    ));
                }
            }
            ids.sort_unstable();
            ids.dedup();
            out.item.push(ids);
        }
        out
    }
}

/// What a new user declares about themselves; every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UserProfile {
    /// `F` or `M` (MovieLens' codes; any case).
    pub gender: Option<String>,
    /// Age in years (banded as [`age_band`]).
    pub age: Option<u32>,
    /// An occupation of the data set (`student`, `writer`, …; any case).
    pub occupation: Option<String>,
}

impl UserProfile {
    /// From text as a user types it: `age` a whole number of years.
    ///
    /// # Errors
    /// An age that is not a whole number from 1 to 120.
    pub fn parse(
        gender: Option<&str>,
        age: Option<&str>,
        occupation: Option<&str>,
    ) -> Result<UserProfile> {
        let age = age
            .map(|a| match a.trim().parse::<u32>() {
                Ok(years @ 1..=120) => Ok(years),
                _ => Err(RecsysError::InvalidArgument(format!(
                    "age {a:?} is not a whole number of years from 1 to 120"
                ))),
            })
            .transpose()?;
        Ok(UserProfile {
            gender: gender.map(|g| g.trim().to_string()),
            age,
            occupation: occupation.map(|o| o.trim().to_string()),
        })
    }

    /// True when nothing is declared.
    pub fn is_empty(&self) -> bool {
        self.gender.is_none() && self.age.is_none() && self.occupation.is_none()
    }
}

/// Settings of [`FeatureBpr`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureBprConfig {
    /// Latent dimensions.
    pub n_factors: usize,
    /// Epochs (each as many triples as training interactions).
    pub n_epochs: usize,
    /// Learning rate γ.
    pub lr: f32,
    /// Regularisation λ.
    pub reg: f32,
    /// At most this many rated items represent a user (0: side features only).
    pub max_history: usize,
    /// Learn only from each user's `first_ratings` earliest ratings (0: from all): what
    /// users rated when they were new is what a new user is likely to rate next.
    #[serde(default)]
    pub first_ratings: usize,
    /// Standard deviation of the initial factors.
    pub init_std: f32,
    /// Seed.
    pub seed: u64,
}

impl Default for FeatureBprConfig {
    fn default() -> Self {
        Self {
            n_factors: 32,
            n_epochs: 30,
            lr: 0.05,
            reg: 0.01,
            max_history: 5,
            first_ratings: 0,
            init_std: 0.1,
            seed: 0,
        }
    }
}

/// The hybrid model of the module docs.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FeatureBpr {
    /// Settings.
    pub config: FeatureBprConfig,
    /// The side features it uses.
    pub features: SideFeatures,
    /// User-feature factors `e_f`, `[n_user_features, f]`.
    pub user_feat: Vec<f32>,
    /// History item factors `w_h`, `[n_items, f]`.
    pub w: Vec<f32>,
    /// Item factors `q_i`, `[n_items, f]`.
    pub q: Vec<f32>,
    /// Item-feature factors `e'_g`, `[n_item_features, f]`.
    pub item_feat: Vec<f32>,
    /// Item biases.
    pub bi: Vec<f32>,
    /// Item-feature biases.
    pub bg: Vec<f32>,
    /// Each user's history at prediction time.
    pub histories: Vec<Vec<u32>>,
    #[serde(skip)]
    seen: Csr,
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl FeatureBpr {
    /// An unfitted model over `features` (from the same data set as the interactions).
    pub fn new(config: FeatureBprConfig, features: SideFeatures) -> FeatureBpr {
        FeatureBpr {
            config,
            features,
            ..Default::default()
        }
    }

    /// Sets the training matrix after loading parameters from a run folder.
    pub fn set_seen(&mut self, seen: Csr) {
        self.seen = seen;
    }

    /// The user vector from feature ids and a history.
    pub fn user_vector(&self, feats: &[u32], history: &[u32]) -> Vec<f32> {
        let f = self.config.n_factors;
        let mut u = vec![0f32; f];
        for &k in feats {
            if let Some(e) = self.user_feat.get(k as usize * f..(k as usize + 1) * f) {
                u.iter_mut().zip(e).for_each(|(a, b)| *a += b);
            }
        }
        if !history.is_empty() {
            let norm = (history.len() as f32).sqrt().recip();
            for &h in history {
                if let Some(w) = self.w.get(h as usize * f..(h as usize + 1) * f) {
                    u.iter_mut().zip(w).for_each(|(a, b)| *a += norm * b);
                }
            }
        }
        u
    }

    /// `(bias, vector)` of an item; `None` out of range.
    fn item_parts(&self, item: usize) -> Option<(f32, Vec<f32>)> {
        let f = self.config.n_factors;
        let mut v = self.q.get(item * f..(item + 1) * f)?.to_vec();
        let mut b = self.bi[item];
        for &g in &self.features.item[item] {
            let g = g as usize;
            v.iter_mut()
                .zip(&self.item_feat[g * f..(g + 1) * f])
                .for_each(|(a, e)| *a += e);
            b += self.bg[g];
        }
        Some((b, v))
    }

    /// The score of `item` for a user described by `feats` and `history` (the path of a user
    /// the model was not trained on).
    pub fn score_new_user(&self, feats: &[u32], history: &[u32], item: usize) -> f32 {
        let u = self.user_vector(feats, history);
        self.item_parts(item).map_or(0.0, |(b, v)| b + dot(&u, &v))
    }

    /// Makes `items` new items: their own factors and biases (learnt, for an item with no
    /// training rating, only from being drawn as a negative) are set to zero, so they are
    /// scored from their features (genres, decade) alone.
    pub fn forget_item_factors(&mut self, items: &[u32]) {
        let f = self.config.n_factors;
        for &i in items {
            let i = i as usize;
            for table in [&mut self.q, &mut self.w] {
                if let Some(row) = table.get_mut(i * f..(i + 1) * f) {
                    row.fill(0.0);
                }
            }
            if let Some(b) = self.bi.get_mut(i) {
                *b = 0.0;
            }
        }
    }

    /// The `k` best items for a user described by `feats` and the items they rated (`rated`,
    /// oldest first; the latest `max_history` of them form the history), leaving the rated
    /// items out.
    pub fn recommend_new_user(&self, feats: &[u32], rated: &[u32], k: usize) -> Vec<(u32, f32)> {
        let history = &rated[rated.len().saturating_sub(self.config.max_history)..];
        let u = self.user_vector(feats, history);
        let scored = (0..self.q.len() / self.config.n_factors.max(1))
            .filter(|i| !rated.contains(&(*i as u32)))
            .filter_map(|i| self.item_parts(i).map(|(b, v)| (i as u32, b + dot(&u, &v))))
            .collect();
        super::top_k(scored, k)
    }

    /// One SGD step on the triple `(u, i, j)` with history `hist`.
    fn step(&mut self, feats: &[u32], hist: &[u32], i: usize, j: usize) {
        let f = self.config.n_factors;
        let (lr, reg) = (self.config.lr, self.config.reg);
        let u = self.user_vector(feats, hist);
        let (Some((bi, vi)), Some((bj, vj))) = (self.item_parts(i), self.item_parts(j)) else {
            return;
        };
        let g = sigmoid(-(bi - bj + dot(&u, &vi) - dot(&u, &vj)));
        let diff: Vec<f32> = vi.iter().zip(&vj).map(|(a, b)| a - b).collect();
        for &k in feats {
            let e = &mut self.user_feat[k as usize * f..(k as usize + 1) * f];
            for d in 0..f {
                e[d] += lr * (g * diff[d] - reg * e[d]);
            }
        }
        if !hist.is_empty() {
            let norm = (hist.len() as f32).sqrt().recip();
            for &h in hist {
                let w = &mut self.w[h as usize * f..(h as usize + 1) * f];
                for d in 0..f {
                    w[d] += lr * (g * norm * diff[d] - reg * w[d]);
                }
            }
        }
        for (item, sign) in [(i, 1.0f32), (j, -1.0)] {
            self.bi[item] += lr * (sign * g - reg * self.bi[item]);
            let q = &mut self.q[item * f..(item + 1) * f];
            for d in 0..f {
                q[d] += lr * (sign * g * u[d] - reg * q[d]);
            }
            for k in 0..self.features.item[item].len() {
                let gi = self.features.item[item][k] as usize;
                self.bg[gi] += lr * (sign * g - reg * self.bg[gi]);
                let e = &mut self.item_feat[gi * f..(gi + 1) * f];
                for d in 0..f {
                    e[d] += lr * (sign * g * u[d] - reg * e[d]);
                }
            }
        }
    }
}

impl Recommender for FeatureBpr {
    fn name(&self) -> String {
        if self.config.max_history == 0 {
            "feature-bpr".into()
        } else {
            "feature-bpr+history".into()
        }
    }

    fn fit(&mut self, train: &Interactions) -> Result<()> {
        let cfg = self.config.clone();
        if cfg.n_factors == 0 || train.is_empty() {
            return Err(RecsysError::InvalidArgument(
                "the feature model needs at least one factor and one interaction".into(),
            ));
        }
        if self.features.user.len() != train.n_users || self.features.item.len() != train.n_items {
            return Err(RecsysError::InvalidArgument(format!(
                "side features cover {} users and {} items, the interactions {} and {}",
                self.features.user.len(),
                self.features.item.len(),
                train.n_users,
                train.n_items
            )));
        }
        let f = cfg.n_factors;
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        let (nu, ni) = (
            self.features.user_vocab.len(),
            self.features.item_vocab.len(),
        );
        self.user_feat = normal_matrix(nu, f, 0.0, cfg.init_std, &mut rng);
        self.w = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        self.q = normal_matrix(train.n_items, f, 0.0, cfg.init_std, &mut rng);
        self.item_feat = normal_matrix(ni, f, 0.0, cfg.init_std, &mut rng);
        self.bi = vec![0.0; train.n_items];
        self.bg = vec![0.0; ni];
        let seen = train.user_item();
        let sampler = NegativeSampler::new(train);
        let sequences = user_sequences(train);
        // The positives (and the histories drawn from them): each user's earliest ratings.
        let learn: Vec<&[u32]> = sequences
            .iter()
            .map(|s| match cfg.first_ratings {
                0 => &s[..],
                n => &s[..n.min(s.len())],
            })
            .collect();
        let positives: Vec<(u32, u32)> = learn
            .iter()
            .enumerate()
            .flat_map(|(u, s)| s.iter().map(move |&i| (u as u32, i)))
            .collect();
        let mut hist = Vec::with_capacity(cfg.max_history);
        for _ in 0..cfg.n_epochs {
            for _ in 0..positives.len() {
                let (u, i) = positives[rng.random_range(0..positives.len())];
                let (u, i) = (u as usize, i as usize);
                let Some(j) = sampler.one(u, &mut rng) else {
                    continue;
                };
                hist.clear();
                if cfg.max_history > 0 {
                    // Up to `max_history` of the user's other items, drawn afresh.
                    let mut others: Vec<u32> = learn[u]
                        .iter()
                        .copied()
                        .filter(|&h| h as usize != i)
                        .collect();
                    let take = rng.random_range(0..=cfg.max_history.min(others.len()));
                    hist.extend_from_slice(others.partial_shuffle(&mut rng, take).0);
                }
                let feats = std::mem::take(&mut self.features.user[u]);
                self.step(&feats, &hist, i, j as usize);
                self.features.user[u] = feats;
            }
        }
        self.histories = if cfg.max_history == 0 {
            vec![Vec::new(); train.n_users]
        } else {
            sequences
                .into_iter()
                .map(|s| s[s.len().saturating_sub(cfg.max_history)..].to_vec())
                .collect()
        };
        self.seen = seen;
        Ok(())
    }

    /// From the user's features and latest rated items; an unknown user scores from nothing
    /// but the item's biases, an unknown item 0.
    fn score(&self, user: usize, item: usize) -> f32 {
        let feats = self.features.user.get(user).map_or(&[][..], |v| v);
        let hist = self.histories.get(user).map_or(&[][..], |v| v);
        self.score_new_user(feats, hist, item)
    }

    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        // The user vector is computed once per run of equal users.
        let mut out = Vec::with_capacity(users.len());
        let mut cache: Option<(u32, Vec<f32>)> = None;
        for (&u, &i) in users.iter().zip(items) {
            if cache.as_ref().is_none_or(|(cu, _)| *cu != u) {
                let feats = self.features.user.get(u as usize).map_or(&[][..], |v| v);
                let hist = self.histories.get(u as usize).map_or(&[][..], |v| v);
                cache = Some((u, self.user_vector(feats, hist)));
            }
            let uv = &cache
                .as_ref()
                .map(|c| &c.1)
                .unwrap_or_else(|| unreachable!());
            out.push(
                self.item_parts(i as usize)
                    .map_or(0.0, |(b, v)| b + dot(uv, &v)),
            );
        }
        out
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cold_start_split;
    use crate::eval::{evaluate_sampled, sampled_candidates};
    use crate::models::Popularity;
    use crate::test_util::synthetic;

    #[test]
    fn features_from_the_dataset() {
        let data = synthetic();
        let feats = SideFeatures::from_dataset(&data);
        assert_eq!(feats.user.len(), data.ratings.n_users);
        assert!(feats.user.iter().all(|f| f.len() == 3));
        assert!(feats.user_vocab.iter().any(|v| v.starts_with("gender:")));
        assert!(feats.item_vocab.iter().any(|v| v.starts_with("genre:")));
        assert_eq!(age_band(17), "under-18");
        assert_eq!(age_band(25), "25-34");
        assert_eq!(age_band(70), "56+");
    }

    #[test]
    fn a_new_users_profile_is_looked_up_and_checked() {
        let features = SideFeatures {
            user_vocab: ["gender:F", "age:25-34", "occupation:student", "gender:M"]
                .map(String::from)
                .to_vec(),
            ..Default::default()
        };
        let profile = UserProfile::parse(Some("m"), Some("30"), Some("Student")).unwrap();
        assert_eq!(features.user_feature_ids(&profile).unwrap(), [3, 1, 2]);
        let only_gender = UserProfile::parse(Some("F"), None, None).unwrap();
        assert_eq!(features.user_feature_ids(&only_gender).unwrap(), [0]);
        assert!(UserProfile::default().is_empty());
        let err = features
            .user_feature_ids(&UserProfile::parse(None, None, Some("pilot")).unwrap())
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid argument: occupation \"pilot\" is not one the model knows (student)"
        );
        // An age band the training data never had.
        let err = features
            .user_feature_ids(&UserProfile::parse(None, Some("70"), None).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("age \"56+\" is not one"), "{err}");
        for bad in ["twenty", "0", "-3", "500"] {
            let err = UserProfile::parse(None, Some(bad), None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a whole number of years"), "{err}");
        }
    }

    #[test]
    fn a_new_user_gets_the_best_unrated_items_by_score() {
        let data = synthetic();
        let mut m = FeatureBpr::new(
            FeatureBprConfig {
                n_factors: 4,
                n_epochs: 2,
                max_history: 2,
                ..Default::default()
            },
            SideFeatures::from_dataset(&data),
        );
        m.fit(&data.ratings).unwrap();
        let feats = m.features.user[0].clone();
        let rated = [4u32, 9, 11];
        let got = m.recommend_new_user(&feats, &rated, 5);
        // By hand: every unrated item scored from the features and the latest 2 rated items.
        let mut want: Vec<(u32, f32)> = (0..data.ratings.n_items as u32)
            .filter(|i| !rated.contains(i))
            .map(|i| (i, m.score_new_user(&feats, &[9, 11], i as usize)))
            .collect();
        want.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        want.truncate(5);
        assert_eq!(got, want);
    }

    #[test]
    fn a_forgotten_item_scores_from_its_features_alone() {
        let data = synthetic();
        let mut m = FeatureBpr::new(
            FeatureBprConfig {
                n_factors: 4,
                n_epochs: 1,
                ..Default::default()
            },
            SideFeatures::from_dataset(&data),
        );
        m.fit(&data.ratings).unwrap();
        let feats = m.features.user[0].clone();
        m.forget_item_factors(&[7]);
        // By hand: b = Σ b'_g, v = Σ e'_g over item 7's features; score = b + uᵀv.
        let f = 4;
        let u = m.user_vector(&feats, &[]);
        let mut want = 0.0;
        for &g in &m.features.item[7] {
            let g = g as usize;
            want += m.bg[g] + dot(&u, &m.item_feat[g * f..(g + 1) * f]);
        }
        let got = m.score_new_user(&feats, &[], 7);
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        assert!(m.q[7 * f..8 * f].iter().all(|&x| x == 0.0) && m.bi[7] == 0.0);
        assert!(m.q[6 * f..7 * f].iter().any(|&x| x != 0.0));
    }

    #[test]
    fn gradient_step_raises_the_positive_over_the_negative() {
        // One SGD step must increase x̂_ui − x̂_uj (the BPR objective's direction).
        let data = synthetic();
        let mut m = FeatureBpr::new(
            FeatureBprConfig {
                n_factors: 4,
                n_epochs: 0,
                reg: 0.0,
                ..Default::default()
            },
            SideFeatures::from_dataset(&data),
        );
        m.fit(&data.ratings).unwrap();
        let feats = m.features.user[0].clone();
        let hist = [3u32, 7];
        let margin = |m: &FeatureBpr| {
            m.score_new_user(&feats, &hist, 1) - m.score_new_user(&feats, &hist, 2)
        };
        let before = margin(&m);
        m.step(&feats, &hist, 1, 2);
        assert!(margin(&m) > before, "{} → {}", before, margin(&m));
    }

    #[test]
    fn cold_users_rank_above_popularity() {
        let data = synthetic();
        let split = cold_start_split(&data.ratings, 0.3, 5, 0).unwrap();
        let cands = sampled_candidates(&split.test, &data.ratings, 49, 1).unwrap();
        let mut pop = Popularity::new();
        pop.fit(&split.train).unwrap();
        let p = evaluate_sampled(&pop, &cands, 10);
        for (max_history, first_ratings) in [(0, 0), (5, 0), (5, 10)] {
            let mut m = FeatureBpr::new(
                FeatureBprConfig {
                    n_factors: 8,
                    n_epochs: 20,
                    max_history,
                    first_ratings,
                    ..Default::default()
                },
                SideFeatures::from_dataset(&data),
            );
            m.fit(&split.train).unwrap();
            let c = evaluate_sampled(&m, &cands, 10);
            assert!(
                c.hr > p.hr,
                "history {max_history}: {c:?} vs popularity {p:?}"
            );
        }
        // Mismatched features are an error, not a panic.
        let mut m = FeatureBpr::new(FeatureBprConfig::default(), SideFeatures::default());
        assert!(m.fit(&split.train).is_err());
    }
}
