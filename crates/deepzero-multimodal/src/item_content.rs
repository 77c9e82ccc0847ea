//! What an item *is*, for recommending items nobody has rated yet: each MovieLens film as the
//! words of its title (text) and its categorical tags (genres, release year and decade).
//!
//! Both are side information a catalogue has the day an item arrives, before any rating, so
//! reading them for every item — new ones included — leaks nothing of the ratings held out.
//! Title words are kept when they occur in at least `min_titles` titles: a word of one title
//! only could never be learnt from another item's ratings, so it would only add noise to a new
//! item's vector. Release years are tags of their own (films of the year the ratings were
//! collected in are rated far more often) beside their decade (for years with few films).

use deepzero_recsys::data::RatingsDataset;
use serde::{Deserialize, Serialize};

/// Every item's title words and tags as ids into two vocabularies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemContent {
    /// Title words in at least `min_titles` titles, in order of first appearance.
    pub words: Vec<String>,
    /// Tags (`genre:Comedy`, `year:1997`, `decade:1990`), in order of first appearance.
    pub tags: Vec<String>,
    /// Each item's distinct title-word ids.
    pub title: Vec<Vec<u32>>,
    /// Each item's distinct tag ids.
    pub features: Vec<Vec<u32>>,
}

/// The lower-cased alphanumeric words of a title, each once, in order (`"Die Hard 2"` →
/// `die`, `hard`, `2`; `"Usual Suspects, The"` → `usual`, `suspects`, `the`).
pub fn title_words(title: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for w in title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let w = w.to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

/// The id of `name` in `vocab`, added at the end when new.
fn intern(
    vocab: &mut Vec<String>,
    index: &mut std::collections::HashMap<String, u32>,
    name: &str,
) -> u32 {
    if let Some(&k) = index.get(name) {
        return k;
    }
    vocab.push(name.to_string());
    let k = (vocab.len() - 1) as u32;
    index.insert(name.to_string(), k);
    k
}

impl ItemContent {
    /// The content of every item of `data` (an item without a row in the item file has
    /// none), keeping title words that occur in at least `min_titles` titles.
    pub fn from_dataset(data: &RatingsDataset, min_titles: usize) -> ItemContent {
        let titles: Vec<Vec<String>> = data
            .items
            .iter()
            .map(|info| {
                info.as_ref()
                    .map(|i| title_words(&i.title))
                    .unwrap_or_default()
            })
            .collect();
        let mut count: std::collections::HashMap<&str, usize> = Default::default();
        for words in &titles {
            for w in words {
                *count.entry(w).or_default() += 1;
            }
        }
        let mut out = ItemContent::default();
        let (mut word_index, mut tag_index) = (Default::default(), Default::default());
        for (info, words) in data.items.iter().zip(&titles) {
            let title: Vec<u32> = words
                .iter()
                .filter(|w| count[w.as_str()] >= min_titles.max(1))
                .map(|w| intern(&mut out.words, &mut word_index, w))
                .collect();
            let mut tags = Vec::new();
            if let Some(info) = info {
                for g in &info.genres {
                    tags.push(intern(&mut out.tags, &mut tag_index, &format!("genre:{g}")));
                }
                if let Some(y) = info.year {
                    tags.push(intern(&mut out.tags, &mut tag_index, &format!("year:{y}")));
                    let decade = format!("decade:{}", y / 10 * 10);
                    tags.push(intern(&mut out.tags, &mut tag_index, &decade));
                }
            }
            tags.sort_unstable();
            tags.dedup();
            out.title.push(title);
            out.features.push(tags);
        }
        out
    }

    /// The same content without the tags whose name starts with `prefix` (e.g. `year:`, to
    /// compare with models that see decades only), the remaining tags renumbered.
    pub fn without_tags(&self, prefix: &str) -> ItemContent {
        let kept: Vec<usize> = (0..self.tags.len())
            .filter(|&k| !self.tags[k].starts_with(prefix))
            .collect();
        let mut new_id = vec![None; self.tags.len()];
        for (n, &k) in kept.iter().enumerate() {
            new_id[k] = Some(n as u32);
        }
        ItemContent {
            words: self.words.clone(),
            tags: kept.iter().map(|&k| self.tags[k].clone()).collect(),
            title: self.title.clone(),
            features: self
                .features
                .iter()
                .map(|ids| ids.iter().filter_map(|&t| new_id[t as usize]).collect())
                .collect(),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.title.len()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.title.is_empty()
    }

    /// Row-normalised bags `[items, vocabulary]` (row-major): entry `(i, w)` is `1 / |ids_i|`
    /// when `w` is one of item `i`'s ids, so multiplying by an embedding table averages the
    /// item's vectors (an item with no ids gets the zero vector).
    pub fn mean_bags(ids: &[Vec<u32>], vocabulary: usize) -> Vec<f32> {
        let mut bags = vec![0.0f32; ids.len() * vocabulary];
        for (row, item) in bags.chunks_mut(vocabulary.max(1)).zip(ids) {
            for &w in item {
                row[w as usize] = 1.0 / item.len() as f32;
            }
        }
        bags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_recsys::data::{Interactions, ItemInfo, RatingScale};

    fn item(title: &str, year: Option<u32>, genres: &[&str]) -> Option<ItemInfo> {
        Some(ItemInfo {
            title: title.into(),
            year,
            genres: genres.iter().map(|g| g.to_string()).collect(),
        })
    }

    fn dataset(items: Vec<Option<ItemInfo>>) -> RatingsDataset {
        RatingsDataset {
            name: "test".into(),
            ratings: Interactions {
                n_users: 0,
                n_items: items.len(),
                data: Vec::new(),
                scale: RatingScale::STARS,
            },
            user_ids: Default::default(),
            item_ids: Default::default(),
            users: Vec::new(),
            items,
        }
    }

    #[test]
    fn title_words_are_lower_case_alphanumeric_and_distinct() {
        assert_eq!(title_words("Die Hard 2"), ["die", "hard", "2"]);
        assert_eq!(
            title_words("Usual Suspects, The"),
            ["usual", "suspects", "the"]
        );
        assert_eq!(
            title_words("Naked Gun 33 1/3: The Final Insult"),
            ["naked", "gun", "33", "1", "3", "the", "final", "insult"]
        );
        assert_eq!(title_words("Amélie: l'Amélie"), ["amélie", "l"]);
        assert!(title_words(" -- ").is_empty());
    }

    #[test]
    fn rare_words_are_dropped_and_tags_include_year_and_decade() {
        let data = dataset(vec![
            item("Star Wars", Some(1977), &["Action", "Sci-Fi"]),
            item("Star Trek", Some(1979), &["Sci-Fi"]),
            item("Trek Home", None, &[]),
            None,
        ]);
        let c = ItemContent::from_dataset(&data, 2);
        assert_eq!(c.words, ["star", "trek"]);
        assert_eq!(c.title, vec![vec![0], vec![0, 1], vec![1], vec![]]);
        assert_eq!(
            c.tags,
            [
                "genre:Action",
                "genre:Sci-Fi",
                "year:1977",
                "decade:1970",
                "year:1979"
            ]
        );
        assert_eq!(
            c.features,
            vec![vec![0, 1, 2, 3], vec![1, 3, 4], vec![], vec![]]
        );
        assert_eq!(c.len(), 4);
        let no_years = c.without_tags("year:");
        assert_eq!(
            no_years.tags,
            ["genre:Action", "genre:Sci-Fi", "decade:1970"]
        );
        assert_eq!(
            no_years.features,
            vec![vec![0, 1, 2], vec![1, 2], vec![], vec![]]
        );
        // With min_titles 1 every word stays.
        assert_eq!(ItemContent::from_dataset(&data, 1).words.len(), 4);
    }

    #[test]
    fn mean_bags_average_each_items_ids() {
        let bags = ItemContent::mean_bags(&[vec![0, 2], vec![], vec![1]], 3);
        assert_eq!(bags, [0.5, 0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    }
}
