//! A labelled graph with optional node features and a train/validation/test split, and the
//! loaders for the named datasets staged in `shared/datasets/graphs/` (and the karate club
//! shipped in `datasets/karate/`).

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::graph::Graph;
use super::read::{read_edge_list, read_node_table, read_text};
use crate::error::{GraphError, Result};

/// Dense node features, row-major `[num_nodes, dim]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Number of feature columns.
    pub dim: usize,
    /// `num_nodes × dim` values, row-major.
    pub values: Vec<f32>,
}

impl Features {
    /// One-hot node ids (`I_n`): the featureless setting of Kipf & Welling's karate example.
    pub fn identity(num_nodes: usize) -> Self {
        let mut values = vec![0.0; num_nodes * num_nodes];
        for i in 0..num_nodes {
            values[i * num_nodes + i] = 1.0;
        }
        Self {
            dim: num_nodes,
            values,
        }
    }

    /// Divides each row by its sum (rows summing to 0 stay 0), as GCN's and GAT's reference
    /// code preprocesses the bag-of-words features.
    pub fn row_normalized(mut self) -> Self {
        if self.dim == 0 {
            return self;
        }
        for row in self.values.chunks_mut(self.dim) {
            let sum: f32 = row.iter().sum();
            if sum != 0.0 {
                row.iter_mut().for_each(|v| *v /= sum);
            }
        }
        self
    }
}

/// Node indices of the three parts of a split.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Labelled nodes the loss sees.
    pub train: Vec<usize>,
    /// Model selection / early stopping.
    pub valid: Vec<usize>,
    /// Reported accuracy.
    pub test: Vec<usize>,
}

impl Split {
    /// Builds a split from three boolean masks.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if a mask's length is not `num_nodes`.
    pub fn from_masks(
        num_nodes: usize,
        train: &[bool],
        valid: &[bool],
        test: &[bool],
    ) -> Result<Self> {
        for (name, mask) in [("train", train), ("valid", valid), ("test", test)] {
            if mask.len() != num_nodes {
                return Err(GraphError::invalid(format!(
                    "the {name} mask has {} entries but the graph has {num_nodes} nodes",
                    mask.len()
                )));
            }
        }
        let pick = |m: &[bool]| {
            m.iter()
                .enumerate()
                .filter(|(_, b)| **b)
                .map(|(i, _)| i)
                .collect()
        };
        Ok(Self {
            train: pick(train),
            valid: pick(valid),
            test: pick(test),
        })
    }

    /// A stratified random split of the labelled nodes: `train_fraction` of each class for
    /// training, `valid_fraction` for validation, the rest for testing (each class keeps at
    /// least one training node).
    ///
    /// # Errors
    /// [`GraphError::Invalid`] if the fractions are outside `[0, 1]` or sum above 1.
    pub fn stratified(
        labels: &[Option<usize>],
        train_fraction: f64,
        valid_fraction: f64,
        seed: u64,
    ) -> Result<Self> {
        if !(0.0..=1.0).contains(&train_fraction)
            || !(0.0..=1.0).contains(&valid_fraction)
            || train_fraction + valid_fraction > 1.0
        {
            return Err(GraphError::invalid(format!(
                "split fractions {train_fraction} + {valid_fraction} must lie in [0, 1] and sum to at most 1"
            )));
        }
        let classes = labels.iter().flatten().max().map_or(0, |c| c + 1);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut split = Split::default();
        for c in 0..classes {
            let mut nodes: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == Some(c))
                .collect();
            nodes.shuffle(&mut rng);
            let n = nodes.len();
            let n_train = ((n as f64 * train_fraction).round() as usize).clamp(n.min(1), n);
            let n_valid = ((n as f64 * valid_fraction).round() as usize).min(n - n_train);
            split.train.extend_from_slice(&nodes[..n_train]);
            split
                .valid
                .extend_from_slice(&nodes[n_train..n_train + n_valid]);
            split.test.extend_from_slice(&nodes[n_train + n_valid..]);
        }
        split.train.sort_unstable();
        split.valid.sort_unstable();
        split.test.sort_unstable();
        Ok(split)
    }

    /// Checks every index is a node of the graph and carries a label.
    ///
    /// # Errors
    /// [`GraphError::Invalid`] naming the first offending node.
    pub fn check(&self, labels: &[Option<usize>]) -> Result<()> {
        for (name, part) in [
            ("train", &self.train),
            ("valid", &self.valid),
            ("test", &self.test),
        ] {
            for &i in part {
                match labels.get(i) {
                    None => {
                        return Err(GraphError::invalid(format!(
                            "the {name} split names node {i} but the graph has {} nodes",
                            labels.len()
                        )));
                    }
                    Some(None) => {
                        return Err(GraphError::invalid(format!(
                            "the {name} split names node {i}, which has no label"
                        )));
                    }
                    Some(Some(_)) => {}
                }
            }
        }
        Ok(())
    }
}

/// A graph with node labels, optional features and an optional standard split.
#[derive(Clone, Debug)]
pub struct NodeDataset {
    /// Short name (`cora`, `karate`, …).
    pub name: String,
    /// The cleaned, undirected graph.
    pub graph: Graph,
    /// Node features, if the dataset has them (Planetoid bag-of-words).
    pub features: Option<Features>,
    /// Class of each node; `None` for unlabelled nodes (CiteSeer's 15 test ids without a class).
    pub labels: Vec<Option<usize>>,
    /// Name of each class.
    pub class_names: Vec<String>,
    /// The published split, if the dataset has one.
    pub split: Option<Split>,
    /// A display name per node (blog URL, character name), empty if none.
    pub node_names: Vec<String>,
}

impl NodeDataset {
    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.graph.num_nodes()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// The dataset's features, or one-hot node ids when it has none.
    pub fn features_or_identity(&self) -> Features {
        self.features
            .clone()
            .unwrap_or_else(|| Features::identity(self.num_nodes()))
    }

    /// The published split, or a stratified random one (`train_fraction` per class, 0 for
    /// validation) seeded by `seed`.
    pub fn split_or_stratified(&self, train_fraction: f64, seed: u64) -> Result<Split> {
        match &self.split {
            Some(s) => Ok(s.clone()),
            None => Split::stratified(&self.labels, train_fraction, 0.0, seed),
        }
    }
}

/// The datasets this crate knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetName {
    /// Planetoid Cora: 2 708 papers, 1 433 word features, 7 classes, split 140/500/1000.
    Cora,
    /// Planetoid CiteSeer: 3 327 papers, 3 703 features, 6 classes, split 120/500/1000.
    Citeseer,
    /// Zachary's karate club: 34 members, 78 friendships, 2 clubs.
    Karate,
    /// Adamic & Glance's political blogs: 1 490 blogs, 2 leanings.
    Polblogs,
    /// American college football 2000: 115 teams, 12 conferences.
    Football,
    /// Krebs's books on US politics: 105 books, 3 leanings.
    Polbooks,
    /// Newman's adjective–noun adjacency: 112 words, 2 classes.
    Adjnoun,
    /// Lusseau's dolphins (no labels).
    Dolphins,
    /// Knuth's Les Misérables co-appearances (no labels).
    Lesmis,
}

impl DatasetName {
    /// Every name.
    pub const ALL: [DatasetName; 9] = [
        Self::Cora,
        Self::Citeseer,
        Self::Karate,
        Self::Polblogs,
        Self::Football,
        Self::Polbooks,
        Self::Adjnoun,
        Self::Dolphins,
        Self::Lesmis,
    ];

    /// The lowercase name used in file names and specs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cora => "cora",
            Self::Citeseer => "citeseer",
            Self::Karate => "karate",
            Self::Polblogs => "polblogs",
            Self::Football => "football",
            Self::Polbooks => "polbooks",
            Self::Adjnoun => "adjnoun",
            Self::Dolphins => "dolphins",
            Self::Lesmis => "lesmis",
        }
    }

    /// The folder the staged copy lives in under `shared/datasets/graphs/`.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Cora => "cora-planetoid",
            Self::Citeseer => "citeseer-planetoid",
            other => other.as_str(),
        }
    }
}

impl std::str::FromStr for DatasetName {
    type Err = GraphError;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|d| d.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|d| d.as_str()).collect();
                GraphError::invalid(format!(
                    "unknown graph dataset {s:?} (known: {})",
                    names.join(", ")
                ))
            })
    }
}

impl std::fmt::Display for DatasetName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Loads a named dataset from `dir`: either the dataset's own folder (holding `cora.cites`,
/// `karate.edges.tsv`, …) or a folder above it that holds the dataset's folder
/// (`shared/datasets/graphs`, with `cora-planetoid/` inside).
///
/// # Errors
/// [`GraphError::Io`] if the files are missing, [`GraphError::Parse`] on malformed content.
pub fn load_dataset(name: DatasetName, dir: &Path) -> Result<NodeDataset> {
    let probe = match name {
        DatasetName::Cora | DatasetName::Citeseer => format!("{name}.cites"),
        _ => format!("{name}.edges.tsv"),
    };
    let dir: PathBuf = if dir.join(&probe).exists() {
        dir.to_path_buf()
    } else if dir.join(name.folder()).join(&probe).exists() {
        dir.join(name.folder())
    } else {
        return Err(GraphError::Io {
            path: dir.join(&probe),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no {name} data here (nor in {}/)", name.folder()),
            ),
        });
    };
    match name {
        DatasetName::Cora | DatasetName::Citeseer => read_planetoid(&dir, name.as_str()),
        _ => read_labelled(&dir, name.as_str()),
    }
}

/// Reads one of the small labelled graphs (`<name>.edges.tsv` and `<name>.nodes.tsv`, whose
/// `value` column is the class; for karate `karate_club_labels.tsv` gives the club). Classes
/// are numbered in sorted order of their text. Unlabelled graphs (empty `value`s) get no
/// classes and all labels `None`.
///
/// # Errors
/// As [`read_edge_list`] and [`read_node_table`].
pub fn read_labelled(dir: &Path, name: &str) -> Result<NodeDataset> {
    let nodes = read_node_table(&dir.join(format!("{name}.nodes.tsv")))?;
    let n = nodes.len();
    let mut values: Vec<String> = nodes.iter().map(|(_, v)| v.clone()).collect();
    let clubs = dir.join(format!("{name}_club_labels.tsv"));
    if clubs.exists() {
        let table = read_node_table(&clubs)?;
        if table.len() != n {
            return Err(GraphError::parse(
                &clubs,
                0,
                format!("{} labels for a graph of {n} nodes", table.len()),
            ));
        }
        values = table.into_iter().map(|(club, _)| club).collect();
    }
    let edges_path = dir.join(format!("{name}.edges.tsv"));
    let (edges, _) = read_edge_list(&edges_path, Some(n))?;
    let graph = Graph::from_edges(n, &edges)?;
    let mut class_names: Vec<String> = values.iter().filter(|v| !v.is_empty()).cloned().collect();
    class_names.sort();
    class_names.dedup();
    let labels = values
        .iter()
        .map(|v| class_names.iter().position(|c| c == v))
        .collect();
    Ok(NodeDataset {
        name: name.to_string(),
        graph,
        features: None,
        labels,
        class_names,
        split: None,
        node_names: nodes.into_iter().map(|(label, _)| label).collect(),
    })
}

/// Reads the Planetoid text conversion in `dir`: `<name>.content.gz` (`node<TAB>f_0 …
/// f_{D−1}<TAB>class`, class `-1` = unlabelled), `<name>.cites` (undirected `a<TAB>b`),
/// `<name>.split.tsv` (`node<TAB>train|val|test|none`) and `<name>.classes.tsv`.
///
/// Node order is that of tkipf/gcn's `load_data`, so the split is the standard one
/// (Cora 140/500/1000, CiteSeer 120/500/1000). CiteSeer's 15 test-index nodes without a class
/// (isolated papers missing from the original data) get the label `None` and are left out of
/// the test set, as the GCN code gives them all-zero label rows that count toward no class.
///
/// # Errors
/// [`GraphError::Parse`] naming the file and line of a malformed row, a node id out of order,
/// a class out of range, or a split row naming an unknown node.
pub fn read_planetoid(dir: &Path, name: &str) -> Result<NodeDataset> {
    // Classes.
    let classes_path = dir.join(format!("{name}.classes.tsv"));
    let mut class_names = Vec::new();
    for (i, line) in read_text(&classes_path)?.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f[0].trim().parse::<usize>().ok() != Some(class_names.len()) {
            return Err(GraphError::parse(
                &classes_path,
                i + 1,
                "classes must be listed as 0, 1, 2, …",
            ));
        }
        class_names.push(
            f.get(2)
                .map_or_else(|| f[0].to_string(), |s| s.trim().to_string()),
        );
    }

    // Features and labels.
    let content_path = dir.join(format!("{name}.content.gz"));
    let text = super::read::read_gz_text(&content_path)?;
    let mut values = Vec::new();
    let mut labels = Vec::new();
    let mut dim = None;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 3 {
            return Err(GraphError::parse(
                &content_path,
                line_no,
                "expected `node<TAB>features…<TAB>class`",
            ));
        }
        if f[0].parse::<usize>().ok() != Some(labels.len()) {
            return Err(GraphError::parse(
                &content_path,
                line_no,
                format!("expected node {} here, found {:?}", labels.len(), f[0]),
            ));
        }
        let d = f.len() - 2;
        if *dim.get_or_insert(d) != d {
            return Err(GraphError::parse(
                &content_path,
                line_no,
                format!("{d} features, earlier rows have {}", dim.unwrap_or(0)),
            ));
        }
        for v in &f[1..=d] {
            values.push(v.parse::<f32>().map_err(|_| {
                GraphError::parse(
                    &content_path,
                    line_no,
                    format!("feature {v:?} is not a number"),
                )
            })?);
        }
        let class = f[d + 1].trim();
        labels.push(match class.parse::<i64>() {
            Ok(-1) => None,
            Ok(c) if c >= 0 && (c as usize) < class_names.len() => Some(c as usize),
            _ => {
                return Err(GraphError::parse(
                    &content_path,
                    line_no,
                    format!(
                        "class {class:?} is not -1 or one of 0..{}",
                        class_names.len()
                    ),
                ));
            }
        });
    }
    let n = labels.len();

    // Edges.
    let (edges, _) = read_edge_list(&dir.join(format!("{name}.cites")), Some(n))?;
    let graph = Graph::from_edges(n, &edges)?;

    // Split.
    let split_path = dir.join(format!("{name}.split.tsv"));
    let mut split = Split::default();
    for (i, line) in read_text(&split_path)?.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || (line_no == 1 && line.starts_with("node")) {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let node = f[0]
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|&v| v < n)
            .ok_or_else(|| {
                GraphError::parse(
                    &split_path,
                    line_no,
                    format!("{:?} is not a node of 0..{n}", f[0]),
                )
            })?;
        let part = f.get(1).map_or("", |s| s.trim());
        let target = match part {
            "train" => &mut split.train,
            "val" | "valid" => &mut split.valid,
            "test" => &mut split.test,
            "none" | "" => continue,
            other => {
                return Err(GraphError::parse(
                    &split_path,
                    line_no,
                    format!("split {other:?} is not train, val, test or none"),
                ));
            }
        };
        if labels[node].is_some() {
            target.push(node);
        }
    }
    split.train.sort_unstable();
    split.valid.sort_unstable();
    split.test.sort_unstable();
    Ok(NodeDataset {
        name: name.to_string(),
        graph,
        features: Some(Features {
            dim: dim.unwrap_or(0),
            values,
        }),
        labels,
        class_names,
        split: Some(split),
        node_names: Vec::new(),
    })
}

/// The folder of the karate club shipped with this repository (`datasets/karate`), found as
/// [`deepzero_data::find_sample`] does (`datasets/karate` relative to the working directory
/// when it is nowhere).
pub fn shipped_karate_dir() -> PathBuf {
    deepzero_data::find_sample("karate").unwrap_or_else(|| PathBuf::from("datasets/karate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_karate_loads() {
        let d = load_dataset(DatasetName::Karate, &shipped_karate_dir()).unwrap();
        assert_eq!(d.num_nodes(), 34);
        assert_eq!(d.graph.num_edges(), 78);
        assert_eq!(
            d.class_names,
            vec!["Mr. Hi".to_string(), "Officer".to_string()]
        );
        let hi = d.labels.iter().filter(|l| **l == Some(0)).count();
        assert_eq!(hi, 17);
        // The two leaders: node 0 is Mr. Hi, node 33 the officer.
        assert_eq!((d.labels[0], d.labels[33]), (Some(0), Some(1)));
        assert_eq!(d.graph.num_components(), 1);
    }

    #[test]
    fn shipped_karate_gml_equals_its_edge_list() {
        let dir = shipped_karate_dir();
        let gml = crate::data::read_gml(&dir.join("karate.gml")).unwrap();
        assert!(!gml.directed);
        assert_eq!(gml.ids, (0..34).collect::<Vec<i64>>());
        let from_gml = Graph::from_edges(34, &gml.edges).unwrap();
        let d = load_dataset(DatasetName::Karate, &dir).unwrap();
        assert_eq!(from_gml.edges(), d.graph.edges());
    }

    #[test]
    fn masks_must_match_the_node_count() {
        let err = Split::from_masks(3, &[true, false, false], &[false; 2], &[false; 3])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("valid mask has 2 entries") && err.contains("3 nodes"),
            "{err}"
        );
        let s = Split::from_masks(
            3,
            &[true, false, false],
            &[false, true, false],
            &[false, false, true],
        )
        .unwrap();
        assert_eq!((s.train, s.valid, s.test), (vec![0], vec![1], vec![2]));
    }

    #[test]
    fn stratified_split_is_seeded_and_covers_each_class() {
        let labels: Vec<Option<usize>> = (0..20).map(|i| Some(i % 2)).chain([None]).collect();
        let a = Split::stratified(&labels, 0.5, 0.2, 3).unwrap();
        let b = Split::stratified(&labels, 0.5, 0.2, 3).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.train.len(), a.valid.len(), a.test.len()), (10, 4, 6));
        assert!(a.check(&labels).is_ok());
        assert!(!a.test.contains(&20));
        assert!(Split::stratified(&labels, 0.9, 0.2, 3).is_err());
        let bad = Split {
            train: vec![25],
            ..Split::default()
        };
        assert!(
            bad.check(&labels)
                .unwrap_err()
                .to_string()
                .contains("node 25")
        );
    }

    #[test]
    fn planetoid_reader_on_a_tiny_conversion() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        std::fs::write(
            p.join("toy.classes.tsv"),
            "class\tsize\tname\n0\t1\tA\n1\t1\tB\n",
        )
        .unwrap();
        let mut gz = flate2::write::GzEncoder::new(
            std::fs::File::create(p.join("toy.content.gz")).unwrap(),
            flate2::Compression::default(),
        );
        gz.write_all(b"0\t1\t1\t0\n1\t0\t2\t1\n2\t0\t0\t-1\n")
            .unwrap();
        gz.finish().unwrap();
        std::fs::write(p.join("toy.cites"), "0\t1\n1\t1\n").unwrap();
        std::fs::write(
            p.join("toy.split.tsv"),
            "node\tsplit\n0\ttrain\n1\tval\n2\ttest\n",
        )
        .unwrap();
        let d = read_planetoid(p, "toy").unwrap();
        assert_eq!(d.labels, vec![Some(0), Some(1), None]);
        assert_eq!(
            d.features.as_ref().unwrap().values,
            vec![1.0, 1.0, 0.0, 2.0, 0.0, 0.0]
        );
        assert_eq!(d.graph.stats().self_loops, 1);
        let split = d.split.unwrap();
        // The unlabelled node 2 is left out of the test set.
        assert_eq!(
            (split.train, split.valid, split.test),
            (vec![0], vec![1], vec![])
        );
        std::fs::write(p.join("toy.cites"), "0\t1\n1\t5\n").unwrap();
        let err = read_planetoid(p, "toy").unwrap_err().to_string();
        assert!(
            err.contains("toy.cites:2:") && err.contains("unknown node"),
            "{err}"
        );
    }

    #[test]
    fn row_normalisation_leaves_zero_rows() {
        let f = Features {
            dim: 2,
            values: vec![1.0, 3.0, 0.0, 0.0],
        }
        .row_normalized();
        assert_eq!(f.values, vec![0.25, 0.75, 0.0, 0.0]);
    }
}
