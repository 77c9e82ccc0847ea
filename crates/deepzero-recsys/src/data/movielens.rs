//! MovieLens readers: ml-100k (`u.data`, `u.user`, GroupLens' `u.item` or the staged RecBole
//! table `ml-100k.item`), ml-1m (`ratings.dat`, `users.dat`, `movies.dat`, `::`-separated) and
//! ml-latest / ml-latest-small (`ratings.csv`, `movies.csv`).
//!
//! Every malformed line is an error naming the file and the line; ratings off the data set's
//! scale are errors too. Files in Latin-1 (GroupLens' `u.item`, ml-1m's `movies.dat`) are
//! decoded as Latin-1 when they are not valid UTF-8.
//!
//! Where to get the data (MovieLens may not be redistributed, so nothing here ships it):
//! [`DOWNLOADS`] lists GroupLens' archives.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{IdMap, Interaction, Interactions, RatingScale};
use crate::error::{RecsysError, Result};

/// GroupLens' download URLs, as `(name, url)`. The archives unpack to the layouts read here.
pub const DOWNLOADS: &[(&str, &str)] = &[
    (
        "ml-100k",
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    ),
    (
        "ml-1m",
        "https://files.grouplens.org/datasets/movielens/ml-1m.zip",
    ),
    (
        "ml-latest-small",
        "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    ),
];

/// The 19 genre flags of GroupLens' `u.item`, in column order.
pub const ML100K_GENRES: [&str; 19] = [
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
];

/// One rating with the ids as written in the file.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RawRating {
    /// User id.
    pub user: u64,
    /// Item (movie) id.
    pub item: u64,
    /// The rating.
    pub rating: f32,
    /// Unix seconds.
    pub timestamp: i64,
}

/// A user's side features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserInfo {
    /// Age in years (ml-1m: the lower bound of the age group).
    pub age: u32,
    /// `M` or `F`.
    pub gender: String,
    /// Occupation (ml-1m: its numeric code as text).
    pub occupation: String,
    /// Zip code.
    pub zip: String,
}

/// An item's side features.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ItemInfo {
    /// Title without the year.
    pub title: String,
    /// Release year, when known.
    pub year: Option<u32>,
    /// Genre names.
    pub genres: Vec<String>,
}

/// A rating data set in dense indices, with its id maps and side features.
#[derive(Clone, Debug)]
pub struct RatingsDataset {
    /// Which layout it was read from (`ml-100k`, `ml-1m`, `ml-latest`, or a caller's name).
    pub name: String,
    /// All ratings.
    pub ratings: Interactions,
    /// Raw user ids ↔ dense indices.
    pub user_ids: IdMap,
    /// Raw item ids ↔ dense indices.
    pub item_ids: IdMap,
    /// Side features by dense user index, when a user file was present.
    pub users: Vec<Option<UserInfo>>,
    /// Side features by dense item index, when an item file was present.
    pub items: Vec<Option<ItemInfo>>,
}

impl RatingsDataset {
    /// Reads whichever MovieLens layout `dir` holds: `u.data` (ml-100k), `ratings.dat` (ml-1m)
    /// or `ratings.csv` (ml-latest).
    pub fn read_dir(dir: &Path) -> Result<RatingsDataset> {
        if !dir.is_dir() {
            return Err(RecsysError::Layout {
                path: dir.to_path_buf(),
                message: "no such data folder".into(),
            });
        }
        if dir.join("u.data").exists() {
            Self::read_ml100k(dir)
        } else if dir.join("ratings.dat").exists() {
            Self::read_ml1m(dir)
        } else if dir.join("ratings.csv").exists() {
            Self::read_ml_latest(dir)
        } else {
            Err(RecsysError::Layout {
                path: dir.to_path_buf(),
                message: "no MovieLens ratings file (looked for u.data, ratings.dat, ratings.csv)"
                    .into(),
            })
        }
    }

    /// ml-100k: `u.data`, and when present `u.user` and `u.item` (GroupLens) or `ml-100k.item`
    /// (RecBole's table, as staged in this project).
    pub fn read_ml100k(dir: &Path) -> Result<RatingsDataset> {
        let ratings = read_u_data(&dir.join("u.data"), RatingScale::STARS)?;
        let users = optional(&dir.join("u.user"), read_u_user)?;
        let items = match optional(&dir.join("u.item"), read_u_item)? {
            Some(items) => Some(items),
            None => optional(&dir.join("ml-100k.item"), read_item_table)?,
        };
        Self::from_raw("ml-100k", ratings, RatingScale::STARS, users, items)
    }

    /// ml-1m: `ratings.dat`, and when present `users.dat` and `movies.dat`.
    pub fn read_ml1m(dir: &Path) -> Result<RatingsDataset> {
        let ratings = read_ml1m_ratings(&dir.join("ratings.dat"), RatingScale::STARS)?;
        let users = optional(&dir.join("users.dat"), read_ml1m_users)?;
        let items = optional(&dir.join("movies.dat"), read_ml1m_movies)?;
        Self::from_raw("ml-1m", ratings, RatingScale::STARS, users, items)
    }

    /// ml-latest / ml-latest-small: `ratings.csv`, and when present `movies.csv`.
    pub fn read_ml_latest(dir: &Path) -> Result<RatingsDataset> {
        let ratings = read_ml_latest_ratings(&dir.join("ratings.csv"), RatingScale::HALF_STARS)?;
        let items = optional(&dir.join("movies.csv"), read_ml_latest_movies)?;
        Self::from_raw("ml-latest", ratings, RatingScale::HALF_STARS, None, items)
    }

    /// Builds the id maps (from the ratings; side rows of users or items without a rating
    /// are dropped) and the dense data set.
    pub fn from_raw(
        name: &str,
        ratings: Vec<RawRating>,
        scale: RatingScale,
        users: Option<Vec<(u64, UserInfo)>>,
        items: Option<Vec<(u64, ItemInfo)>>,
    ) -> Result<RatingsDataset> {
        if ratings.is_empty() {
            return Err(RecsysError::InvalidArgument(format!("{name}: no ratings")));
        }
        let user_ids = IdMap::from_ids(ratings.iter().map(|r| r.user));
        let item_ids = IdMap::from_ids(ratings.iter().map(|r| r.item));
        let data = ratings
            .iter()
            .map(|r| Interaction {
                // Both ids are in the maps: the maps were built from these ratings.
                user: user_ids.index(r.user).unwrap_or_default() as u32,
                item: item_ids.index(r.item).unwrap_or_default() as u32,
                rating: r.rating,
                timestamp: r.timestamp,
            })
            .collect();
        let mut user_rows = vec![None; user_ids.len()];
        for (id, info) in users.into_iter().flatten() {
            if let Some(u) = user_ids.index(id) {
                user_rows[u] = Some(info);
            }
        }
        let mut item_rows = vec![None; item_ids.len()];
        for (id, info) in items.into_iter().flatten() {
            if let Some(i) = item_ids.index(id) {
                item_rows[i] = Some(info);
            }
        }
        Ok(RatingsDataset {
            name: name.to_string(),
            ratings: Interactions {
                n_users: user_ids.len(),
                n_items: item_ids.len(),
                data,
                scale,
            },
            user_ids,
            item_ids,
            users: user_rows,
            items: item_rows,
        })
    }

    /// The title of a dense item index, when the item file gave one.
    pub fn title(&self, item: usize) -> Option<&str> {
        self.items.get(item)?.as_ref().map(|i| i.title.as_str())
    }
}

fn optional<T>(path: &Path, read: fn(&Path) -> Result<T>) -> Result<Option<T>> {
    if path.exists() {
        read(path).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads a whole text file, as UTF-8 or, failing that, Latin-1 (every byte one character).
fn read_text(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(RecsysError::io(path))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    })
}

/// The non-empty lines of a file with their 1-based numbers.
fn lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(k, l)| (k + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty())
}

fn parse_err(path: &Path, line: usize, message: impl Into<String>) -> RecsysError {
    RecsysError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

fn field<T: std::str::FromStr>(path: &Path, line: usize, name: &str, text: &str) -> Result<T> {
    text.trim()
        .parse()
        .map_err(|_| parse_err(path, line, format!("{name} {text:?} is not a number")))
}

fn rating_from_fields(
    path: &Path,
    line: usize,
    fields: &[&str],
    scale: RatingScale,
) -> Result<RawRating> {
    if fields.len() != 4 {
        return Err(parse_err(
            path,
            line,
            format!(
                "expected 4 fields (user, item, rating, timestamp), found {}",
                fields.len()
            ),
        ));
    }
    let rating: f32 = field(path, line, "rating", fields[2])?;
    if !scale.contains(rating) {
        return Err(parse_err(
            path,
            line,
            format!(
                "rating {rating} is outside the scale {}–{}",
                scale.min, scale.max
            ),
        ));
    }
    Ok(RawRating {
        user: field(path, line, "user id", fields[0])?,
        item: field(path, line, "item id", fields[1])?,
        rating,
        timestamp: field(path, line, "timestamp", fields[3])?,
    })
}

/// ml-100k `u.data` (and the `u1.base` … `u5.test` folds): `user item rating timestamp`,
/// tab-separated.
pub fn read_u_data(path: &Path, scale: RatingScale) -> Result<Vec<RawRating>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let fields: Vec<&str> = l.split('\t').collect();
            rating_from_fields(path, n, &fields, scale)
        })
        .collect()
}

/// The predefined rating-prediction folds of ml-100k, `u1.base`/`u1.test` … `u5.base`/`u5.test`
/// in `dir` (GroupLens' 80/20 splits of `u.data` with disjoint test sets), in the dense
/// indices of `dataset` (read from the same folder's `u.data`). Every `uN.base` with a
/// matching `uN.test` from N = 1 up is read, stopping at the first N with neither.
///
/// # Errors
/// No `u1.base`/`u1.test`, a fold with only one of its two files, a malformed line (file and
/// line number), an empty fold file, or an id absent from `dataset`.
pub fn read_u_folds(dir: &Path, dataset: &RatingsDataset) -> Result<Vec<super::Fold>> {
    let mut folds = Vec::new();
    for n in 1.. {
        let base = dir.join(format!("u{n}.base"));
        let test = dir.join(format!("u{n}.test"));
        match (base.exists(), test.exists()) {
            (false, false) => break,
            (true, true) => folds.push(super::Fold {
                train: fold_file(&base, dataset)?,
                test: fold_file(&test, dataset)?,
            }),
            (has_base, _) => {
                let missing = if has_base { &test } else { &base };
                return Err(RecsysError::Layout {
                    path: missing.clone(),
                    message: format!("missing: fold {n} needs both u{n}.base and u{n}.test"),
                });
            }
        }
    }
    if folds.is_empty() {
        return Err(RecsysError::Layout {
            path: dir.to_path_buf(),
            message: "no predefined folds (looked for u1.base and u1.test)".into(),
        });
    }
    Ok(folds)
}

/// One `uN.base` / `uN.test` file in the dense indices of `dataset`.
fn fold_file(path: &Path, dataset: &RatingsDataset) -> Result<Interactions> {
    let scale = dataset.ratings.scale;
    let raw = read_u_data(path, scale)?;
    if raw.is_empty() {
        return Err(RecsysError::Layout {
            path: path.to_path_buf(),
            message: "empty fold file".into(),
        });
    }
    let not_in = |what: &str, id: u64| RecsysError::Layout {
        path: path.to_path_buf(),
        message: format!("{what} id {id} is not in the data set's ratings"),
    };
    let data = raw
        .iter()
        .map(|r| {
            Ok(Interaction {
                user: dataset
                    .user_ids
                    .index(r.user)
                    .ok_or_else(|| not_in("user", r.user))? as u32,
                item: dataset
                    .item_ids
                    .index(r.item)
                    .ok_or_else(|| not_in("item", r.item))? as u32,
                rating: r.rating,
                timestamp: r.timestamp,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(dataset.ratings.with_data(data))
}

/// ml-1m `ratings.dat`: `UserID::MovieID::Rating::Timestamp`.
pub fn read_ml1m_ratings(path: &Path, scale: RatingScale) -> Result<Vec<RawRating>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let fields: Vec<&str> = l.split("::").collect();
            rating_from_fields(path, n, &fields, scale)
        })
        .collect()
}

/// ml-latest `ratings.csv`: a `userId,movieId,rating,timestamp` header, then one rating a line.
pub fn read_ml_latest_ratings(path: &Path, scale: RatingScale) -> Result<Vec<RawRating>> {
    let text = read_text(path)?;
    let mut it = lines(&text);
    match it.next() {
        Some((_, h)) if h.trim() == "userId,movieId,rating,timestamp" => {}
        Some((n, h)) => {
            return Err(parse_err(
                path,
                n,
                format!("expected the header userId,movieId,rating,timestamp, found {h:?}"),
            ));
        }
        None => return Ok(Vec::new()),
    }
    it.map(|(n, l)| {
        let fields: Vec<&str> = l.split(',').collect();
        rating_from_fields(path, n, &fields, scale)
    })
    .collect()
}

/// ml-100k `u.user`: `id|age|gender|occupation|zip`.
pub fn read_u_user(path: &Path) -> Result<Vec<(u64, UserInfo)>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split('|').collect();
            if f.len() != 5 {
                return Err(parse_err(
                    path,
                    n,
                    format!(
                        "expected 5 fields (id|age|gender|occupation|zip), found {}",
                        f.len()
                    ),
                ));
            }
            Ok((
                field(path, n, "user id", f[0])?,
                UserInfo {
                    age: field(path, n, "age", f[1])?,
                    gender: f[2].to_string(),
                    occupation: f[3].to_string(),
                    zip: f[4].to_string(),
                },
            ))
        })
        .collect()
}

/// Splits `"Toy Story (1995)"` into `("Toy Story", Some(1995))`.
fn split_year(title: &str) -> (String, Option<u32>) {
    let t = title.trim();
    if let Some(open) = t.rfind('(')
        && t.ends_with(')')
        && let Ok(year) = t[open + 1..t.len() - 1].trim().parse::<u32>()
    {
        return (t[..open].trim().to_string(), Some(year));
    }
    (t.to_string(), None)
}

/// GroupLens' ml-100k `u.item`: `id|title (year)|release date|video date|IMDb URL|` then 19
/// genre flags (Latin-1).
pub fn read_u_item(path: &Path) -> Result<Vec<(u64, ItemInfo)>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split('|').collect();
            if f.len() != 5 + ML100K_GENRES.len() {
                return Err(parse_err(
                    path,
                    n,
                    format!("expected 24 fields, found {}", f.len()),
                ));
            }
            let (title, year) = split_year(f[1]);
            let mut genres = Vec::new();
            for (g, flag) in f[5..].iter().enumerate() {
                match flag.trim() {
                    "1" => genres.push(ML100K_GENRES[g].to_string()),
                    "0" => {}
                    other => {
                        return Err(parse_err(
                            path,
                            n,
                            format!("genre flag {other:?} is not 0 or 1"),
                        ));
                    }
                }
            }
            Ok((
                field(path, n, "item id", f[0])?,
                ItemInfo {
                    title,
                    year,
                    genres,
                },
            ))
        })
        .collect()
}

/// RecBole's item table (the staged `ml-100k.item`): a header
/// `item_id:token  movie_title:token_seq  release_year:token  class:token_seq`, then
/// tab-separated rows with space-separated genres.
pub fn read_item_table(path: &Path) -> Result<Vec<(u64, ItemInfo)>> {
    let text = read_text(path)?;
    let mut it = lines(&text);
    let Some((hn, header)) = it.next() else {
        return Ok(Vec::new());
    };
    let columns: Vec<&str> = header
        .split('\t')
        .map(|c| c.split(':').next().unwrap_or(c))
        .collect();
    let col = |name: &str| columns.iter().position(|&c| c == name);
    let (Some(ci), Some(ct)) = (col("item_id"), col("movie_title")) else {
        return Err(parse_err(
            path,
            hn,
            "header must name item_id and movie_title columns",
        ));
    };
    let (cy, cg) = (col("release_year"), col("class"));
    it.map(|(n, l)| {
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() != columns.len() {
            return Err(parse_err(
                path,
                n,
                format!("expected {} fields, found {}", columns.len(), f.len()),
            ));
        }
        // RecBole's table spells a missing year "unkonwn" (item 267) and has "V" for one
        // video release (item 1412): anything that is not a year is "no year".
        let year = cy.and_then(|c| f[c].trim().parse().ok());
        let genres = cg
            .map(|c| f[c].split_whitespace().map(str::to_string).collect())
            .unwrap_or_default();
        Ok((
            field(path, n, "item id", f[ci])?,
            ItemInfo {
                title: f[ct].trim().to_string(),
                year,
                genres,
            },
        ))
    })
    .collect()
}

/// ml-1m `users.dat`: `UserID::Gender::Age::Occupation::Zip-code`.
pub fn read_ml1m_users(path: &Path) -> Result<Vec<(u64, UserInfo)>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split("::").collect();
            if f.len() != 5 {
                return Err(parse_err(
                    path,
                    n,
                    format!("expected 5 fields, found {}", f.len()),
                ));
            }
            Ok((
                field(path, n, "user id", f[0])?,
                UserInfo {
                    gender: f[1].to_string(),
                    age: field(path, n, "age", f[2])?,
                    occupation: f[3].to_string(),
                    zip: f[4].to_string(),
                },
            ))
        })
        .collect()
}

/// ml-1m `movies.dat`: `MovieID::Title (Year)::Genre|Genre` (Latin-1).
pub fn read_ml1m_movies(path: &Path) -> Result<Vec<(u64, ItemInfo)>> {
    let text = read_text(path)?;
    lines(&text)
        .map(|(n, l)| {
            let f: Vec<&str> = l.split("::").collect();
            if f.len() != 3 {
                return Err(parse_err(
                    path,
                    n,
                    format!("expected 3 fields, found {}", f.len()),
                ));
            }
            let (title, year) = split_year(f[1]);
            Ok((
                field(path, n, "movie id", f[0])?,
                ItemInfo {
                    title,
                    year,
                    genres: f[2].split('|').map(str::to_string).collect(),
                },
            ))
        })
        .collect()
}

/// Splits one CSV line into fields, honouring double quotes (`""` inside quotes is a quote).
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(cur);
    Some(out)
}

/// ml-latest `movies.csv`: a `movieId,title,genres` header; titles may be quoted.
pub fn read_ml_latest_movies(path: &Path) -> Result<Vec<(u64, ItemInfo)>> {
    let text = read_text(path)?;
    lines(&text)
        .skip(1)
        .map(|(n, l)| {
            let f = csv_fields(l).ok_or_else(|| parse_err(path, n, "unterminated quote"))?;
            if f.len() != 3 {
                return Err(parse_err(
                    path,
                    n,
                    format!("expected 3 fields, found {}", f.len()),
                ));
            }
            let (title, year) = split_year(&f[1]);
            let genres = match f[2].as_str() {
                "(no genres listed)" => Vec::new(),
                g => g.split('|').map(str::to_string).collect(),
            };
            Ok((
                field(path, n, "movie id", &f[0])?,
                ItemInfo {
                    title,
                    year,
                    genres,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &[u8]) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn reads_ml100k_with_recbole_item_table() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "u.data",
            b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t881250950\n",
        );
        write(
            d.path(),
            "u.user",
            b"196|49|M|writer|55105\n186|39|F|executive|00000\n999|1|M|x|1\n",
        );
        write(
            d.path(),
            "ml-100k.item",
            b"item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n242\tKolya\t1996\tComedy\n302\tL.A. Confidential\t1997\tCrime Film-Noir Mystery Thriller\n",
        );
        let ds = RatingsDataset::read_dir(d.path()).unwrap();
        assert_eq!(ds.name, "ml-100k");
        assert_eq!(
            (ds.ratings.n_users, ds.ratings.n_items, ds.ratings.len()),
            (2, 2, 3)
        );
        // Ids are sorted: user 186 → 0, 196 → 1; item 242 → 0, 302 → 1.
        assert_eq!(
            ds.ratings.data[0],
            Interaction {
                user: 1,
                item: 0,
                rating: 3.0,
                timestamp: 881250949
            }
        );
        assert_eq!(ds.users[0].as_ref().unwrap().occupation, "executive");
        let item = ds.items[1].as_ref().unwrap();
        assert_eq!(
            (item.title.as_str(), item.year, item.genres.len()),
            ("L.A. Confidential", Some(1997), 4)
        );
    }

    #[test]
    fn reads_grouplens_u_item_in_latin1() {
        let d = tempfile::tempdir().unwrap();
        let mut line =
            b"1|Caf\xe9 (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
                .to_vec();
        line.extend_from_slice(
            b"2|GoldenEye (1995)|01-Jan-1995||u|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0\n",
        );
        let p = write(d.path(), "u.item", &line);
        let items = read_u_item(&p).unwrap();
        assert_eq!(items[0].1.title, "Café");
        assert_eq!(items[0].1.genres, vec!["Animation", "Children's", "Comedy"]);
        assert_eq!(items[1].1.genres, vec!["Action", "Adventure", "Thriller"]);
    }

    #[test]
    fn reads_ml1m_and_ml_latest() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "ratings.dat",
            b"1::1193::5::978300760\n1::661::3::978302109\n",
        );
        write(
            d.path(),
            "movies.dat",
            b"1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n",
        );
        write(d.path(), "users.dat", b"1::F::1::10::48067\n");
        let ds = RatingsDataset::read_dir(d.path()).unwrap();
        assert_eq!((ds.name.as_str(), ds.ratings.len()), ("ml-1m", 2));
        assert_eq!(ds.title(1), Some("One Flew Over the Cuckoo's Nest"));
        assert_eq!(ds.users[0].as_ref().unwrap().gender, "F");

        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "ratings.csv",
            b"userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n",
        );
        write(d.path(), "movies.csv", b"movieId,title,genres\n1,\"American President, The (1995)\",Comedy|Drama|Romance\n3,Grumpier Old Men (1995),(no genres listed)\n");
        let ds = RatingsDataset::read_dir(d.path()).unwrap();
        assert_eq!(ds.ratings.scale, RatingScale::HALF_STARS);
        assert_eq!(ds.title(0), Some("American President, The"));
        assert!(ds.items[1].as_ref().unwrap().genres.is_empty());
    }

    #[test]
    fn predefined_folds_pair_base_and_test() {
        let d = tempfile::tempdir().unwrap();
        write(
            d.path(),
            "u.data",
            b"1\t10\t5\t1\n1\t20\t3\t2\n2\t10\t4\t3\n2\t30\t1\t4\n3\t20\t2\t5\n",
        );
        write(
            d.path(),
            "u1.base",
            b"1\t10\t5\t1\n1\t20\t3\t2\n2\t10\t4\t3\n",
        );
        write(d.path(), "u1.test", b"2\t30\t1\t4\n3\t20\t2\t5\n");
        write(
            d.path(),
            "u2.base",
            b"2\t30\t1\t4\n3\t20\t2\t5\n2\t10\t4\t3\n",
        );
        write(d.path(), "u2.test", b"1\t10\t5\t1\n1\t20\t3\t2\n");
        let data = RatingsDataset::read_dir(d.path()).unwrap();
        let folds = read_u_folds(d.path(), &data).unwrap();
        assert_eq!(folds.len(), 2);
        // Dense indices of the whole data set: users 1 2 3 → 0 1 2, items 10 20 30 → 0 1 2.
        let pairs = |x: &Interactions| -> Vec<(u32, u32, f32)> {
            x.data.iter().map(|r| (r.user, r.item, r.rating)).collect()
        };
        assert_eq!(pairs(&folds[0].test), vec![(1, 2, 1.0), (2, 1, 2.0)]);
        assert_eq!(pairs(&folds[1].test), vec![(0, 0, 5.0), (0, 1, 3.0)]);
        assert_eq!(folds[0].train.len(), 3);
        assert_eq!((folds[1].train.n_users, folds[1].train.n_items), (3, 3));
        // The folds feed the cross-validation directly.
        let make = || {
            Box::new(crate::models::Baseline::new(Default::default()))
                as Box<dyn crate::models::Recommender>
        };
        let cv = crate::eval::cross_validate_folds(&make, &folds).unwrap();
        assert_eq!(cv.folds.iter().map(|f| f.n).collect::<Vec<_>>(), vec![2, 2]);

        // A fold with one file missing, an unknown id, an empty file, no folds at all.
        write(d.path(), "u3.base", b"1\t10\t5\t1\n");
        let e = read_u_folds(d.path(), &data).unwrap_err().to_string();
        assert!(e.contains("u3.test") && e.contains("missing"), "{e}");
        write(d.path(), "u3.test", b"4\t10\t5\t1\n");
        let e = read_u_folds(d.path(), &data).unwrap_err().to_string();
        assert!(e.contains("u3.test") && e.contains("user id 4"), "{e}");
        write(d.path(), "u3.test", b"");
        let e = read_u_folds(d.path(), &data).unwrap_err().to_string();
        assert!(e.contains("u3.test") && e.contains("empty"), "{e}");
        write(d.path(), "u3.test", b"1\t10\t7\t1\n");
        let e = read_u_folds(d.path(), &data).unwrap_err().to_string();
        assert!(e.contains("u3.test:1") && e.contains("outside"), "{e}");
        let none = tempfile::tempdir().unwrap();
        let e = read_u_folds(none.path(), &data).unwrap_err().to_string();
        assert!(e.contains("u1.base"), "{e}");
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "u.data", b"1\t2\t3\t4\n\n1\t2\tx\t4\n");
        let e = read_u_data(&p, RatingScale::STARS).unwrap_err().to_string();
        assert!(e.ends_with("u.data:3: rating \"x\" is not a number"), "{e}");
        let p = write(d.path(), "u.data", b"1\t2\t6\t4\n");
        let e = read_u_data(&p, RatingScale::STARS).unwrap_err().to_string();
        assert!(
            e.contains("u.data:1: rating 6 is outside the scale 1–5"),
            "{e}"
        );
        let p = write(d.path(), "u.data", b"1\t2\t3\n");
        let e = read_u_data(&p, RatingScale::STARS).unwrap_err().to_string();
        assert!(e.contains(":1: expected 4 fields"), "{e}");
        let p = write(d.path(), "ratings.csv", b"user,item\n");
        let e = read_ml_latest_ratings(&p, RatingScale::HALF_STARS)
            .unwrap_err()
            .to_string();
        assert!(e.contains("ratings.csv:1: expected the header"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = RatingsDataset::read_dir(empty.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no MovieLens ratings file"), "{e}");
        let p = write(d.path(), "u.data", b"");
        let _ = p;
        let e = RatingsDataset::read_ml100k(d.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("no ratings"), "{e}");
    }
}
