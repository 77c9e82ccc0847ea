//! A latent-factor generator that writes MovieLens' ml-100k layout (`u.data`, `u.user`,
//! `ml-100k.item`), so tests and the shipped example run without MovieLens (which may not be
//! redistributed) and the models have real structure to find:
//!
//! - every user `u` and item `i` gets a latent vector (`p_u`, `q_i`, `N(0, 1/√f)` and `N(0, 1)`),
//!   the items a log-popularity `s_i ~ N(0, 1)`;
//! - which items a user rates is drawn without replacement with weights
//!   `exp(s_i + 1.5 p_u·q_i)` (popular items and items close to the user's taste), so implicit
//!   feedback carries the factors too;
//! - the rating is `round(3.5 + b_u + b_i + 0.8 p_u·q_i + ε)` clipped to 1–5, with
//!   `b_i = 0.3 s_i + N(0, 0.2)`, `b_u ~ N(0, 0.3)` and `ε ~ N(0, noise)`;
//! - side features follow the factors (age and gender from `p_u`'s first two components,
//!   occupation from its largest component; genres from the signs of `q_i`), so cold start from
//!   side features has something to use.

use std::fmt::Write as _;
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::RatingScale;
use super::movielens::{ItemInfo, RatingsDataset, RawRating, UserInfo};
use crate::error::{RecsysError, Result};

/// Settings of [`generate`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyntheticConfig {
    /// Number of users.
    pub n_users: usize,
    /// Number of items.
    pub n_items: usize,
    /// Latent dimensions.
    pub n_factors: usize,
    /// Mean ratings per user (log-normal around it; at least 5).
    pub ratings_per_user: usize,
    /// Standard deviation of the rating noise.
    pub noise: f32,
    /// Seed of everything.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        Self {
            n_users: 300,
            n_items: 400,
            n_factors: 4,
            ratings_per_user: 40,
            noise: 0.4,
            seed: 42,
        }
    }
}

const OCCUPATIONS: [&str; 6] = ["student", "engineer", "writer", "artist", "doctor", "other"];
const GENRES: [&str; 8] = [
    "Action",
    "Comedy",
    "Drama",
    "Romance",
    "Thriller",
    "Sci-Fi",
    "Animation",
    "Documentary",
];

/// One standard normal draw (Box–Muller; rand 0.9 has no normal distribution without rand_distr).
pub(crate) fn normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Generates a data set (named `synthetic`, ids `1..=n` like MovieLens).
///
/// # Errors
/// Zero users, items or factors.
pub fn generate(cfg: &SyntheticConfig) -> Result<RatingsDataset> {
    if cfg.n_users == 0 || cfg.n_items < 2 || cfg.n_factors == 0 {
        return Err(RecsysError::InvalidArgument(format!(
            "synthetic data needs users, at least 2 items and factors (got {} users, {} items, {} factors)",
            cfg.n_users, cfg.n_items, cfg.n_factors
        )));
    }
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let f = cfg.n_factors;
    let scale_u = 1.0 / (f as f32).sqrt();
    let p: Vec<Vec<f32>> = (0..cfg.n_users)
        .map(|_| (0..f).map(|_| normal(&mut rng) * scale_u).collect())
        .collect();
    let q: Vec<Vec<f32>> = (0..cfg.n_items)
        .map(|_| (0..f).map(|_| normal(&mut rng)).collect())
        .collect();
    let pop: Vec<f32> = (0..cfg.n_items).map(|_| normal(&mut rng)).collect();
    let bi: Vec<f32> = pop
        .iter()
        .map(|s| 0.3 * s + 0.2 * normal(&mut rng))
        .collect();
    let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();

    let mut ratings = Vec::new();
    let mut users = Vec::new();
    for (u, pu) in p.iter().enumerate() {
        let bu = 0.3 * normal(&mut rng);
        let want = (cfg.ratings_per_user as f32 * (0.5 * normal(&mut rng)).exp()).round() as usize;
        let n_u = want.clamp(5, cfg.n_items / 2).max(1);
        // Efraimidis–Spirakis: the n_u largest ln(U)/w are a weighted draw without replacement.
        let mut keys: Vec<(f32, usize)> = (0..cfg.n_items)
            .map(|i| {
                let w = (pop[i] + 1.5 * dot(pu, &q[i])).exp();
                let r: f32 = rng.random_range(f32::MIN_POSITIVE..1.0);
                (r.ln() / w, i)
            })
            .collect();
        keys.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut t = 875_000_000 + rng.random_range(0..10_000_000i64);
        for &(_, i) in keys.iter().take(n_u) {
            let mean = 3.5 + bu + bi[i] + 0.8 * dot(pu, &q[i]);
            let r = (mean + cfg.noise * normal(&mut rng))
                .round()
                .clamp(1.0, 5.0);
            t += rng.random_range(1..100_000i64);
            ratings.push(RawRating {
                user: u as u64 + 1,
                item: i as u64 + 1,
                rating: r,
                timestamp: t,
            });
        }
        let top = (0..f).max_by(|&a, &b| pu[a].total_cmp(&pu[b])).unwrap_or(0);
        users.push((
            u as u64 + 1,
            UserInfo {
                age: (35.0 + 30.0 * pu[0]).clamp(7.0, 73.0) as u32,
                gender: if pu.get(1).copied().unwrap_or(0.0) > 0.0 {
                    "M"
                } else {
                    "F"
                }
                .into(),
                occupation: OCCUPATIONS[top % OCCUPATIONS.len()].into(),
                zip: format!("{:05}", 10_000 + u),
            },
        ));
    }
    let items = q
        .iter()
        .enumerate()
        .map(|(i, qi)| {
            let genres = (0..GENRES.len())
                .filter(|&g| {
                    let v = qi[g % f];
                    if g < f { v > 0.3 } else { v < -0.3 }
                })
                .map(|g| GENRES[g].to_string())
                .collect();
            (
                i as u64 + 1,
                ItemInfo {
                    title: format!("Movie {}", i + 1),
                    year: Some(1950 + (i as u32 * 7) % 50),
                    genres,
                },
            )
        })
        .collect();
    RatingsDataset::from_raw(
        "synthetic",
        ratings,
        RatingScale::STARS,
        Some(users),
        Some(items),
    )
}

/// Writes `data` in the staged ml-100k layout: `u.data` (tab-separated), `u.user`
/// (`|`-separated) and `ml-100k.item` (RecBole's table), creating `dir`.
pub fn write_ml100k(dir: &Path, data: &RatingsDataset) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(RecsysError::io(dir))?;
    let raw_u = |u: usize| data.user_ids.raw(u).unwrap_or_default();
    let raw_i = |i: usize| data.item_ids.raw(i).unwrap_or_default();
    let mut text = String::new();
    for x in &data.ratings.data {
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{}",
            raw_u(x.user as usize),
            raw_i(x.item as usize),
            x.rating,
            x.timestamp
        );
    }
    write(&dir.join("u.data"), &text)?;
    let mut text = String::new();
    for (u, info) in data.users.iter().enumerate() {
        if let Some(i) = info {
            let _ = writeln!(
                text,
                "{}|{}|{}|{}|{}",
                raw_u(u),
                i.age,
                i.gender,
                i.occupation,
                i.zip
            );
        }
    }
    write(&dir.join("u.user"), &text)?;
    let mut text =
        String::from("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n");
    for (k, info) in data.items.iter().enumerate() {
        if let Some(i) = info {
            let year = i.year.map(|y| y.to_string()).unwrap_or_default();
            let _ = writeln!(
                text,
                "{}\t{}\t{}\t{}",
                raw_i(k),
                i.title,
                year,
                i.genres.join(" ")
            );
        }
    }
    write(&dir.join("ml-100k.item"), &text)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(RecsysError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_data_round_trips_through_the_ml100k_reader() {
        let cfg = SyntheticConfig {
            n_users: 30,
            n_items: 50,
            ..Default::default()
        };
        let data = generate(&cfg).unwrap();
        assert_eq!(data.ratings.n_users, 30);
        assert!(data.ratings.len() >= 30 * 5);
        assert!(
            data.ratings
                .data
                .iter()
                .all(|x| RatingScale::STARS.contains(x.rating))
        );
        let dir = tempfile::tempdir().unwrap();
        write_ml100k(dir.path(), &data).unwrap();
        let back = RatingsDataset::read_dir(dir.path()).unwrap();
        assert_eq!(back.ratings, data.ratings);
        assert_eq!(back.users, data.users);
        assert_eq!(back.items, data.items);
        // Seeded: the same config gives the same data.
        assert_eq!(generate(&cfg).unwrap().ratings, data.ratings);
    }

    #[test]
    fn rejects_empty_shapes() {
        let cfg = SyntheticConfig {
            n_items: 1,
            ..Default::default()
        };
        assert!(generate(&cfg).is_err());
    }
}
