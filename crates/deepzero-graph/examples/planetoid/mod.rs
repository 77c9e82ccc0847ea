//! What the Planetoid benchmarks (`planetoid_bench`, `sage_bench`) share: the dataset named on
//! the command line (`DATA_DIR NAME`, by default the shared graphs folder and Cora), read with
//! its row-normalised features and its public split.

use deepzero_graph::data::{DatasetName, Features, NodeDataset, Split, load_dataset};

/// The dataset of a benchmark run and the arguments after `DATA_DIR NAME`.
pub struct Planetoid {
    /// Which dataset.
    pub name: DatasetName,
    /// The graph and its labels.
    pub data: NodeDataset,
    /// Its features (the identity without any), each row summing to one.
    pub features: Features,
    /// Its public train/valid/test split.
    pub split: Split,
    /// The benchmark's own arguments.
    pub rest: Vec<String>,
}

impl Planetoid {
    /// Reads the dataset the command line names.
    pub fn from_args() -> Result<Self, Box<dyn std::error::Error>> {
        let mut args = std::env::args().skip(1);
        let dir = args
            .next()
            .unwrap_or_else(|| "../shared/datasets/graphs".into());
        let name: DatasetName = args.next().as_deref().unwrap_or("cora").parse()?;
        let data = load_dataset(name, std::path::Path::new(&dir))?;
        let features = data.features_or_identity().row_normalized();
        let split = data.split.clone().ok_or("no split")?;
        Ok(Self {
            name,
            data,
            features,
            split,
            rest: args.collect(),
        })
    }
}

/// Mean and (population) standard deviation of the test accuracies over the seeds.
pub fn mean_and_std(accuracies: &[f64]) -> (f64, f64) {
    let n = accuracies.len() as f64;
    let mean = accuracies.iter().sum::<f64>() / n;
    let var = accuracies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}
