//! Content-aware NeuMF: neural collaborative filtering (He et al. 2017) whose items are also
//! described by what they are — the words of their title and their tags — so that an item
//! nobody has rated yet still gets a vector, and with it a place in everyone's ranking
//! (seed chapter 6.3, multimedia recommendation; the cold-start problem of 5.4).
//!
//! For item `i` with title words `W(i)` and tags `T(i)` (genres, year, decade):
//!
//! - content `c_i = [mean_{w ∈ W(i)} e_w ; mean_{t ∈ T(i)} e'_t]` (a bag of word vectors, the
//!   text tower, beside a bag of tag vectors);
//! - each branch's item vector is the content projected plus the item's own vector, when it
//!   has one: `q_i = A c_i + m_i · v_i` (GMF) and `q'_i = A' c_i + m_i · v'_i` (MLP);
//! - `ŷ_ui = σ(hᵀ [p_u ⊙ q_i ; MLP([p'_u ; q'_i])] + bᵀ c_i + b₀)`: NeuMF's fusion, plus a
//!   content bias `bᵀ c_i` (how much an item like this is rated, whoever the user).
//!
//! `m_i` is 1 for an item with training interactions and 0 for a new one: its own vectors were
//! never trained, so it is scored from its content alone. During training `m_i` is dropped to 0
//! for a random `id_dropout` share of the examples (DropoutNet, Volkovs et al. 2017), so the
//! content path must carry the signal on its own and a new item's content-only vector lies in
//! the same space as the warm items'. Negatives are drawn among the items with training
//! interactions only: items that arrive later do not exist yet when the model is trained.
//! Training is NeuMF's (binary cross-entropy on logits, `negatives` fresh negatives per
//! positive each epoch, Adam) without the branch pre-training.

use burn::nn::{Embedding, Linear};
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::relu;
use deepzero_recsys::data::{Csr, Interactions};
use deepzero_recsys::models::neumf::{bce_with_logits, embedding, linear, save_fitted};
use deepzero_recsys::models::score_in_chunks;
use deepzero_recsys::{Recommender, RecsysError};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::item_content::ItemContent;

/// Settings of [`ContentNeuMf`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContentNeuMfConfig {
    /// GMF width.
    pub factors: usize,
    /// MLP widths; `mlp_layers[0]` is the concatenated user and item vectors (half each).
    pub mlp_layers: Vec<usize>,
    /// Width of each content bag (title words, tags).
    pub content_dim: usize,
    /// Read the title words.
    pub use_title: bool,
    /// Read the tags.
    pub use_tags: bool,
    /// Items with training interactions also get vectors of their own.
    pub item_vectors: bool,
    /// Share of the training examples whose item is seen through its content alone.
    pub id_dropout: f64,
    /// Sampled negatives per positive.
    pub negatives: usize,
    /// Training epochs.
    pub epochs: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the initial weights, the negatives and the dropped item vectors.
    pub seed: u64,
}

impl Default for ContentNeuMfConfig {
    fn default() -> Self {
        Self {
            factors: 16,
            mlp_layers: vec![64, 32, 16, 8],
            content_dim: 32,
            // Chosen on a validation split of MovieLens-100k (docs/multimodal.md): the title
            // words lowered HR@10 of new items in every setting tried, and 0.3 beat 0.5 and 0.8.
            use_title: false,
            use_tags: true,
            item_vectors: true,
            id_dropout: 0.3,
            negatives: 4,
            epochs: 10,
            batch_size: 256,
            lr: 1e-3,
            seed: 0,
        }
    }
}

impl ContentNeuMfConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// Zero widths or batch, an MLP of fewer than two widths or an odd first one, no content
    /// source, a dropout outside `[0, 1]`.
    pub fn check(&self) -> Result<(), RecsysError> {
        let bad = |m: String| Err(RecsysError::InvalidArgument(m));
        if self.factors == 0
            || self.content_dim == 0
            || self.batch_size == 0
            || self.mlp_layers.len() < 2
            || !self.mlp_layers[0].is_multiple_of(2)
            || self.mlp_layers.contains(&0)
        {
            return bad(format!(
                "content NeuMF needs factors, content width and batch ≥ 1 and an MLP of at least two widths with an even first one (got factors {}, content {}, batch {}, layers {:?})",
                self.factors, self.content_dim, self.batch_size, self.mlp_layers
            ));
        }
        if !(self.use_title || self.use_tags) {
            return bad("content NeuMF needs the titles, the tags or both".into());
        }
        if !(0.0..=1.0).contains(&self.id_dropout) {
            return bad(format!(
                "item-vector dropout must be in [0, 1] (got {})",
                self.id_dropout
            ));
        }
        Ok(())
    }

    /// Width of the content vector `c_i`.
    fn content_width(&self) -> usize {
        self.content_dim * (usize::from(self.use_title) + usize::from(self.use_tags))
    }

    /// A freshly initialised network for `n_users` users and `content`'s items.
    pub fn init(&self, n_users: usize, content: &ItemContent, device: &Device) -> ContentNcfNet {
        let n_items = content.len();
        let half = self.mlp_layers[0] / 2;
        let c = self.content_width();
        let items = |d| self.item_vectors.then(|| embedding(n_items, d, device));
        ContentNcfNet {
            gmf_user: embedding(n_users, self.factors, device),
            mlp_user: embedding(n_users, half, device),
            gmf_item: items(self.factors),
            mlp_item: items(half),
            words: self
                .use_title
                .then(|| embedding(content.words.len().max(1), self.content_dim, device)),
            tags: self
                .use_tags
                .then(|| embedding(content.tags.len().max(1), self.content_dim, device)),
            content_gmf: linear(c, self.factors, device),
            content_mlp: linear(c, half, device),
            content_bias: linear(c, 1, device),
            mlp: self
                .mlp_layers
                .windows(2)
                .map(|w| linear(w[0], w[1], device))
                .collect(),
            out: linear(
                self.factors + self.mlp_layers[self.mlp_layers.len() - 1],
                1,
                device,
            ),
        }
    }
}

/// The items of a batch as the network reads them.
#[derive(Clone, Debug)]
pub struct ItemBatch {
    /// Item indices `[B]`.
    pub ids: Tensor<1, Int>,
    /// Each item's averaging row over the title words `[B, words]` (when titles are read).
    pub title_bags: Option<Tensor<2>>,
    /// Each item's averaging row over the tags `[B, tags]` (when tags are read).
    pub tag_bags: Option<Tensor<2>>,
    /// `m_i`: 1 where the item's own vectors count, 0 where it is seen by content alone `[B, 1]`.
    pub own: Tensor<2>,
}

/// The network.
#[derive(Module, Debug)]
pub struct ContentNcfNet {
    /// GMF user vectors `[users, factors]`.
    pub gmf_user: Embedding,
    /// MLP user vectors `[users, mlp_layers[0] / 2]`.
    pub mlp_user: Embedding,
    /// GMF item vectors `[items, factors]` (with `item_vectors`).
    pub gmf_item: Option<Embedding>,
    /// MLP item vectors `[items, mlp_layers[0] / 2]` (with `item_vectors`).
    pub mlp_item: Option<Embedding>,
    /// Title-word vectors `[words, content_dim]` (with `use_title`).
    pub words: Option<Embedding>,
    /// Tag vectors `[tags, content_dim]` (with `use_tags`).
    pub tags: Option<Embedding>,
    /// `A`: content to the GMF item vector.
    pub content_gmf: Linear,
    /// `A'`: content to the MLP item vector.
    pub content_mlp: Linear,
    /// `b`: content to a bias.
    pub content_bias: Linear,
    /// The MLP tower.
    pub mlp: Vec<Linear>,
    /// `h`, `b₀`.
    pub out: Linear,
}

impl ContentNcfNet {
    /// Logits of `(user, item)` pairs.
    ///
    /// # Shapes
    /// - `users`: `[B]`; `items`: ids `[B]`, bags `[B, words]` and `[B, tags]`, own `[B, 1]`
    /// - output: `[B]`
    pub fn forward(&self, users: Tensor<1, Int>, items: ItemBatch) -> Tensor<1> {
        let mut bags = Vec::new();
        if let (Some(words), Some(b)) = (&self.words, items.title_bags) {
            bags.push(b.matmul(words.weight.val())); // [B, W] × [W, d] → [B, d]
        }
        if let (Some(tags), Some(b)) = (&self.tags, items.tag_bags) {
            bags.push(b.matmul(tags.weight.val())); // [B, T] × [T, d] → [B, d]
        }
        let content = Tensor::cat(bags, 1); // [B, c]
        let own = |table: &Option<Embedding>| {
            table
                .as_ref()
                .map(|t| t.weight.val().select(0, items.ids.clone()) * items.own.clone())
        };
        let with_own = |q: Tensor<2>, v: Option<Tensor<2>>| match v {
            Some(v) => q + v,
            None => q,
        };
        let q = with_own(
            self.content_gmf.forward(content.clone()),
            own(&self.gmf_item),
        );
        let q_mlp = with_own(
            self.content_mlp.forward(content.clone()),
            own(&self.mlp_item),
        );
        let p = self.gmf_user.weight.val().select(0, users.clone());
        let p_mlp = self.mlp_user.weight.val().select(0, users);
        let mut h = Tensor::cat(vec![p_mlp, q_mlp], 1); // [B, mlp_layers[0]]
        for layer in &self.mlp {
            h = relu(layer.forward(h));
        }
        let x = Tensor::cat(vec![p * q, h], 1); // [B, factors + last]
        let logits = self.out.forward(x) + self.content_bias.forward(content); // [B, 1]
        let [b, _] = logits.dims();
        logits.reshape([b])
    }
}

/// The items' content as constant tensors on one device, and which items have vectors of
/// their own.
#[derive(Clone, Debug)]
struct ContentTensors {
    title_bags: Option<Tensor<2>>,
    tag_bags: Option<Tensor<2>>,
    warm: Vec<bool>,
}

impl ContentTensors {
    fn new(cfg: &ContentNeuMfConfig, content: &ItemContent, warm: Vec<bool>, d: &Device) -> Self {
        let bags = |ids: &[Vec<u32>], n: usize| {
            let n = n.max(1);
            Tensor::from_data(
                TensorData::new(ItemContent::mean_bags(ids, n), [ids.len(), n]),
                d,
            )
        };
        ContentTensors {
            title_bags: cfg
                .use_title
                .then(|| bags(&content.title, content.words.len())),
            tag_bags: cfg
                .use_tags
                .then(|| bags(&content.features, content.tags.len())),
            warm,
        }
    }

    /// The batch of `items`; `own[k]` says whether item `k`'s own vectors count.
    fn batch(&self, items: &[i32], own: Vec<f32>, device: &Device) -> ItemBatch {
        let b = items.len();
        let ids = Tensor::<1, Int>::from_data(TensorData::new(items.to_vec(), [b]), device);
        ItemBatch {
            title_bags: self
                .title_bags
                .as_ref()
                .map(|t| t.clone().select(0, ids.clone())),
            tag_bags: self
                .tag_bags
                .as_ref()
                .map(|t| t.clone().select(0, ids.clone())),
            own: Tensor::from_data(TensorData::new(own, [b, 1]), device),
            ids,
        }
    }
}

/// A content-aware NeuMF recommender (see the module docs).
#[derive(Debug)]
pub struct ContentNeuMf {
    /// Settings.
    pub config: ContentNeuMfConfig,
    content: ItemContent,
    device: Device,
    net: Option<ContentNcfNet>,
    tensors: Option<ContentTensors>,
    seen: Csr,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
}

impl ContentNeuMf {
    /// An unfitted model of the items described by `content`, trained and scored on `device`.
    pub fn new(config: ContentNeuMfConfig, content: ItemContent, device: Device) -> Self {
        Self {
            config,
            content,
            device,
            net: None,
            tensors: None,
            seen: Csr::default(),
            losses: Vec::new(),
        }
    }

    /// The trained network, if fitted.
    pub fn net(&self) -> Option<&ContentNcfNet> {
        self.net.as_ref()
    }

    /// The items' content.
    pub fn content(&self) -> &ItemContent {
        &self.content
    }

    /// Saves the weights as a burnpack record.
    ///
    /// # Errors
    /// Not fitted, or the file cannot be written.
    pub fn save(&self, path: &std::path::Path) -> Result<(), RecsysError> {
        save_fitted(self.net.as_ref(), "content NeuMF", path)
    }

    /// A fitted model from saved weights and the training matrix it was fitted on (which
    /// items are warm is read from it).
    ///
    /// # Errors
    /// Invalid settings, a matrix of another item count than `content`, an unreadable file.
    pub fn load(
        config: ContentNeuMfConfig,
        content: ItemContent,
        seen: Csr,
        path: &std::path::Path,
        device: Device,
    ) -> Result<Self, RecsysError> {
        config.check()?;
        if seen.n_cols != content.len() {
            return Err(RecsysError::InvalidArgument(format!(
                "the training matrix has {} items but the content {}",
                seen.n_cols,
                content.len()
            )));
        }
        let net = config.init(seen.n_rows, &content, &device);
        let net = deepzero_train::checkpoint::load_model(net, path)?;
        let mut model = Self::new(config, content, device);
        model.tensors = Some(model.tensors_for(&seen, &model.device.clone()));
        model.net = Some(net);
        model.seen = seen;
        Ok(model)
    }

    /// Which items have training interactions (warm).
    pub fn warm_items(&self) -> Vec<bool> {
        self.tensors
            .as_ref()
            .map(|t| t.warm.clone())
            .unwrap_or_default()
    }

    fn tensors_for(&self, seen: &Csr, device: &Device) -> ContentTensors {
        let mut warm = vec![false; seen.n_cols];
        for u in 0..seen.n_rows {
            for &i in seen.row(u).0 {
                warm[i as usize] = true;
            }
        }
        ContentTensors::new(&self.config, &self.content, warm, device)
    }

    /// One epoch's `(user, item, label)` examples: each positive and `negatives` items the
    /// user has no interaction with, drawn among the warm items.
    fn examples(
        &self,
        train: &Interactions,
        seen: &Csr,
        warm: &[u32],
        rng: &mut StdRng,
    ) -> Vec<(i32, i32, f32)> {
        let mut out = Vec::with_capacity(train.len() * (1 + self.config.negatives));
        for x in &train.data {
            out.push((x.user as i32, x.item as i32, 1.0));
            if seen.row_len(x.user as usize) >= warm.len() {
                continue; // the user has rated every warm item: no negative exists
            }
            for _ in 0..self.config.negatives {
                let j = loop {
                    let j = warm[rng.random_range(0..warm.len())];
                    if !seen.contains(x.user as usize, j as usize) {
                        break j;
                    }
                };
                out.push((x.user as i32, j as i32, 0.0));
            }
        }
        out.shuffle(rng);
        out
    }
}

impl Recommender for ContentNeuMf {
    fn name(&self) -> String {
        let source = match (self.config.use_title, self.config.use_tags) {
            (true, true) => "title+tags",
            (true, false) => "title",
            _ => "tags",
        };
        format!("content-neumf ({source})")
    }

    fn fit(&mut self, train: &Interactions) -> Result<(), RecsysError> {
        let cfg = self.config.clone();
        cfg.check()?;
        if train.n_items != self.content.len() || train.is_empty() {
            return Err(RecsysError::InvalidArgument(format!(
                "content NeuMF got {} items with {} ratings but content for {} items",
                train.n_items,
                train.len(),
                self.content.len()
            )));
        }
        let ad = self.device.clone().autodiff();
        ad.seed(cfg.seed);
        let seen = train.user_item();
        let tensors = self.tensors_for(&seen, &ad);
        let warm: Vec<u32> = (0..seen.n_cols as u32)
            .filter(|&i| tensors.warm[i as usize])
            .collect();
        let mut net = cfg.init(train.n_users, &self.content, &ad);
        let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        self.losses.clear();
        for _ in 0..cfg.epochs {
            let (mut sum, mut n) = (0.0, 0usize);
            for batch in self
                .examples(train, &seen, &warm, &mut rng)
                .chunks(cfg.batch_size)
            {
                let b = batch.len();
                let column =
                    |f: fn(&(i32, i32, f32)) -> i32| batch.iter().map(f).collect::<Vec<_>>();
                let users = Tensor::from_data(TensorData::new(column(|x| x.0), [b]), &ad);
                let own = (0..b)
                    .map(|_| f32::from(u8::from(!rng.random_bool(cfg.id_dropout))))
                    .collect();
                let items = tensors.batch(&column(|x| x.1), own, &ad);
                let labels: Vec<f32> = batch.iter().map(|x| x.2).collect();
                let labels = Tensor::from_data(TensorData::new(labels, [b]), &ad);
                let loss = bce_with_logits(net.forward(users, items), labels);
                let value: f32 = loss.clone().into_scalar();
                sum += f64::from(value) * b as f64;
                n += b;
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                net = optim.step(cfg.lr, net, grads);
            }
            self.losses.push(sum / n.max(1) as f64);
        }
        self.net = Some(net.valid());
        self.tensors = Some(self.tensors_for(&seen, &self.device.clone()));
        self.seen = seen;
        Ok(())
    }

    fn score(&self, user: usize, item: usize) -> f32 {
        self.score_pairs(&[user as u32], &[item as u32])[0]
    }

    /// Logits, batched on the device; new items (no training interaction) are scored from
    /// their content alone; a pair out of range scores `f32::MIN`.
    fn score_pairs(&self, users: &[u32], items: &[u32]) -> Vec<f32> {
        let (Some(net), Some(tensors)) = (&self.net, &self.tensors) else {
            return vec![0.0; users.len()];
        };
        let shape = [self.seen.n_rows, self.seen.n_cols];
        score_in_chunks(users, items, shape, |us, is| {
            let b = us.len();
            let own = is
                .iter()
                .map(|&i| f32::from(u8::from(tensors.warm[i as usize])));
            let batch = tensors.batch(&is, own.collect(), &self.device);
            let users = Tensor::from_data(TensorData::new(us, [b]), &self.device);
            let logits = net.forward(users, batch).into_data();
            logits.try_to_vec::<f32>().ok()
        })
    }

    fn seen(&self) -> &Csr {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deepzero_recsys::data::{Interaction, RatingScale};

    fn content(n_items: usize) -> ItemContent {
        // Items 0..n/2 are "comedies" (tag 0, word 0), the rest "dramas" (tag 1, word 1).
        let kind = |i: usize| u32::from(i >= n_items / 2);
        ItemContent {
            words: vec!["laugh".into(), "tears".into()],
            tags: vec!["genre:Comedy".into(), "genre:Drama".into()],
            title: (0..n_items).map(|i| vec![kind(i)]).collect(),
            features: (0..n_items).map(|i| vec![kind(i)]).collect(),
        }
    }

    /// Even users rate only comedies, odd users only dramas; the last item of each half is
    /// new (never rated).
    fn taste_data(n_users: usize, n_items: usize) -> Interactions {
        let half = n_items / 2;
        let mut data = Vec::new();
        for u in 0..n_users {
            let first = if u % 2 == 0 { 0 } else { half };
            for i in first..first + half - 1 {
                if (u + i) % 3 != 0 {
                    data.push(Interaction {
                        user: u as u32,
                        item: i as u32,
                        rating: 5.0,
                        timestamp: 0,
                    });
                }
            }
        }
        Interactions {
            n_users,
            n_items,
            data,
            scale: RatingScale::STARS,
        }
    }

    #[test]
    fn shapes_and_parameter_counts() {
        let dev = Device::flex();
        let cfg = ContentNeuMfConfig {
            use_title: true,
            ..Default::default()
        };
        let net = cfg.init(10, &content(6), &dev);
        // users 10·(16 + 32), items 6·(16 + 32), words 2·32, tags 2·32, A 64·16+16,
        // A' 64·32+32, b 64+1, tower 64·32+32 + 32·16+16 + 16·8+8, out 24+1.
        let expected = 480 + 288 + 64 + 64 + 1040 + 2080 + 65 + 2080 + 528 + 136 + 25;
        assert_eq!(net.num_params(), expected);
        let ct = ContentTensors::new(&cfg, &content(6), vec![true; 6], &dev);
        let batch = ct.batch(&[0, 5, 3], vec![1.0, 0.0, 1.0], &dev);
        let users = Tensor::from_data(TensorData::new(vec![1i32, 2, 3], [3]), &dev);
        assert_eq!(net.forward(users, batch).dims(), [3]);
    }

    #[test]
    fn a_new_item_is_scored_from_its_content_alone() {
        let dev = Device::flex();
        let cfg = ContentNeuMfConfig {
            use_title: true,
            ..Default::default()
        };
        let c = content(6);
        let net = cfg.init(4, &c, &dev);
        let ct = ContentTensors::new(&cfg, &c, vec![true; 6], &dev);
        let users = || Tensor::from_data(TensorData::new(vec![1i32, 1], [2]), &dev);
        // Items 0 and 1 share their content: without their own vectors they score alike.
        let alone = net.forward(users(), ct.batch(&[0, 1], vec![0.0, 0.0], &dev));
        let alone: Vec<f32> = alone.into_data().try_to_vec::<f32>().unwrap();
        assert!((alone[0] - alone[1]).abs() < 1e-6, "{alone:?}");
        let owned = net.forward(users(), ct.batch(&[0, 1], vec![1.0, 1.0], &dev));
        let owned: Vec<f32> = owned.into_data().try_to_vec::<f32>().unwrap();
        assert!((owned[0] - owned[1]).abs() > 1e-7, "{owned:?}");
    }

    #[test]
    fn bad_settings_and_mismatched_content_are_errors() {
        let no_content = ContentNeuMfConfig {
            use_title: false,
            use_tags: false,
            ..Default::default()
        };
        assert!(
            no_content
                .check()
                .unwrap_err()
                .to_string()
                .contains("titles, the tags")
        );
        let odd = ContentNeuMfConfig {
            mlp_layers: vec![63, 8],
            ..Default::default()
        };
        assert!(odd.check().is_err());
        let mut m = ContentNeuMf::new(ContentNeuMfConfig::default(), content(4), Device::flex());
        let err = m.fit(&taste_data(4, 6)).unwrap_err().to_string();
        assert!(err.contains("content for 4 items"), "{err}");
    }

    #[test]
    fn new_items_are_ranked_by_the_taste_their_content_matches() {
        let (n_users, n_items) = (12, 10);
        let train = taste_data(n_users, n_items);
        let cfg = ContentNeuMfConfig {
            factors: 4,
            mlp_layers: vec![8, 4],
            content_dim: 4,
            epochs: 60,
            batch_size: 32,
            lr: 0.02,
            ..Default::default()
        };
        let mut m = ContentNeuMf::new(cfg, content(n_items), Device::flex());
        m.fit(&train).unwrap();
        assert!(m.losses.last().unwrap() < &m.losses[0]);
        // Items 4 (comedy) and 9 (drama) were never rated: scored by content alone.
        assert!(!m.warm_items()[4]);
        assert!(!m.warm_items()[9]);
        for u in 0..n_users as u32 {
            let s = m.score_pairs(&[u, u], &[4, 9]);
            let prefers_comedy = s[0] > s[1];
            assert_eq!(prefers_comedy, u % 2 == 0, "user {u}: {s:?}");
        }
        // Out of range scores the minimum.
        assert_eq!(m.score(0, 99), f32::MIN);
    }

    #[test]
    fn saved_weights_score_the_same() {
        let train = taste_data(6, 8);
        let cfg = ContentNeuMfConfig {
            epochs: 2,
            ..Default::default()
        };
        let mut m = ContentNeuMf::new(cfg.clone(), content(8), Device::flex());
        m.fit(&train).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.bpk");
        m.save(&path).unwrap();
        let back =
            ContentNeuMf::load(cfg, content(8), train.user_item(), &path, Device::flex()).unwrap();
        let (us, is) = ([0u32, 1, 2, 5], [0u32, 3, 7, 4]);
        assert_eq!(m.score_pairs(&us, &is), back.score_pairs(&us, &is));
        assert_eq!(back.warm_items(), m.warm_items());
    }
}
