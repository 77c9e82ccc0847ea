//! BiLSTM-CRF tagger (Huang, Xu & Yu 2015; Lample et al. 2016): token embeddings (plus an
//! optional word-shape embedding) → bidirectional [`StackedRnn`] of LSTMs → a linear layer
//! giving emission scores per tag → a linear-chain [`Crf`].

use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::prelude::*;
use deepzero_train::{ClassificationStep, Supervised};

use super::crf::{Crf, CrfConfig};
use crate::rnn::{RecurrentKind, StackedRnn, StackedRnnConfig};

/// Configuration of a [`BiLstmCrf`].
#[derive(Config, Debug)]
pub struct BiLstmCrfConfig {
    /// Token vocabulary size (id 0 is padding).
    pub vocab_size: usize,
    /// Number of tags `K`.
    pub num_tags: usize,
    /// Token embedding width.
    #[config(default = 64)]
    pub d_embed: usize,
    /// LSTM hidden width per direction.
    #[config(default = 64)]
    pub d_hidden: usize,
    /// Stacked LSTM layers.
    #[config(default = 1)]
    pub num_layers: usize,
    /// Number of word-shape classes (0: no shape feature).
    #[config(default = 0)]
    pub num_shapes: usize,
    /// Width of the shape embedding.
    #[config(default = 8)]
    pub d_shape: usize,
    /// Dropout on the embeddings and the LSTM outputs.
    #[config(default = 0.3)]
    pub dropout: f64,
}

impl BiLstmCrfConfig {
    /// Builds the tagger.
    pub fn init(&self, device: &Device) -> BiLstmCrf {
        let d_in = self.d_embed + if self.num_shapes > 0 { self.d_shape } else { 0 };
        BiLstmCrf {
            embedding: EmbeddingConfig::new(self.vocab_size, self.d_embed).init(device),
            shape_embedding: (self.num_shapes > 0)
                .then(|| EmbeddingConfig::new(self.num_shapes, self.d_shape).init(device)),
            rnn: StackedRnnConfig::new(RecurrentKind::Lstm, d_in, self.d_hidden)
                .with_num_layers(self.num_layers)
                .with_bidirectional(true)
                .with_dropout(self.dropout)
                .with_forget_bias(1.0)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            emit: LinearConfig::new(2 * self.d_hidden, self.num_tags).init(device),
            crf: CrfConfig::new(self.num_tags).init(device),
        }
    }
}

/// A batch of right-padded tagged sentences.
#[derive(Clone, Debug)]
pub struct TaggingBatch {
    /// Token ids `[B, T]` (0 at padding).
    pub tokens: Tensor<2, Int>,
    /// Word-shape ids `[B, T]`, when the model uses them.
    pub shapes: Option<Tensor<2, Int>>,
    /// Gold tag ids `[B, T]` (0 at padding).
    pub tags: Tensor<2, Int>,
    /// `[B, T]`, `true` = padded.
    pub padding: Tensor<2, Bool>,
    /// Flat indices `b·T + t` of the real steps, `[N]` (N = real tokens).
    pub real: Tensor<1, Int>,
}

impl TaggingBatch {
    /// Pads `(tokens, shapes, tags)` id sequences (each at least one step long) into a batch.
    pub fn new(
        items: &[(Vec<usize>, Vec<usize>, Vec<usize>)],
        with_shapes: bool,
        device: &Device,
    ) -> Self {
        let batch = items.len();
        let steps = items.iter().map(|i| i.0.len()).max().unwrap_or(1).max(1);
        let mut tokens = vec![0i64; batch * steps];
        let mut shapes = vec![0i64; batch * steps];
        let mut tags = vec![0i64; batch * steps];
        let mut padding = vec![true; batch * steps];
        let mut real = Vec::new();
        for (b, (tok, shp, tag)) in items.iter().enumerate() {
            for (t, &id) in tok.iter().enumerate() {
                let i = b * steps + t;
                tokens[i] = id as i64;
                shapes[i] = shp.get(t).copied().unwrap_or(0) as i64;
                tags[i] = tag.get(t).copied().unwrap_or(0) as i64;
                padding[i] = false;
                real.push(i as i64);
            }
        }
        let n = real.len();
        Self {
            tokens: Tensor::from_data(TensorData::new(tokens, [batch, steps]), device),
            shapes: with_shapes
                .then(|| Tensor::from_data(TensorData::new(shapes, [batch, steps]), device)),
            tags: Tensor::from_data(TensorData::new(tags, [batch, steps]), device),
            padding: Tensor::from_data(TensorData::new(padding, [batch, steps]), device),
            real: Tensor::from_data(TensorData::new(real, [n]), device),
        }
    }
}

/// Embedding → BiLSTM → linear emissions → CRF.
#[derive(Module, Debug)]
pub struct BiLstmCrf {
    /// Token embeddings `[V, d_embed]`.
    pub embedding: Embedding,
    /// Word-shape embeddings `[S, d_shape]` (word-level models).
    pub shape_embedding: Option<Embedding>,
    /// Bidirectional LSTM stack, output `[B, T, 2H]`.
    pub rnn: StackedRnn,
    /// Dropout on embeddings and LSTM outputs.
    pub dropout: Dropout,
    /// Emission scores `[2H → K]`.
    pub emit: Linear,
    /// The CRF output layer.
    pub crf: Crf,
}

impl BiLstmCrf {
    /// Emission scores.
    ///
    /// # Shapes
    /// - tokens, shapes: `[B, T]`; padding: `[B, T]`, `true` = padded
    /// - output: `[B, T, K]`
    pub fn emissions(
        &self,
        tokens: Tensor<2, Int>,
        shapes: Option<Tensor<2, Int>>,
        padding: Tensor<2, Bool>,
    ) -> Tensor<3> {
        let mut x = self.embedding.forward(tokens); // [B, T, d_embed]
        if let (Some(emb), Some(s)) = (&self.shape_embedding, shapes) {
            x = Tensor::cat(vec![x, emb.forward(s)], 2); // [B, T, d_embed + d_shape]
        }
        let x = self.dropout.forward(x);
        let (h, _) = self.rnn.forward(x, None, Some(padding)); // [B, T, 2H]
        self.emit.forward(self.dropout.forward(h)) // [B, T, K]
    }

    /// The best tag path of every sentence (Viterbi).
    pub fn decode(&self, batch: &TaggingBatch) -> Vec<Vec<usize>> {
        let e = self.emissions(
            batch.tokens.clone(),
            batch.shapes.clone(),
            batch.padding.clone(),
        );
        self.crf.viterbi(e, Some(batch.padding.clone()))
    }
}

impl Supervised for BiLstmCrf {
    type Batch = TaggingBatch;

    /// Loss: the CRF negative log-likelihood summed over the batch and divided by the number of
    /// real tokens (a per-token NLL, so that `evaluate`'s token-weighted mean is the corpus
    /// NLL per token). Logits and targets are the emission scores and gold tags of the real
    /// tokens, so the loop's "accuracy" is the per-token accuracy of the emissions alone.
    fn step(&self, batch: TaggingBatch) -> ClassificationStep {
        let [b, t] = batch.tokens.dims();
        let emissions = self.emissions(batch.tokens, batch.shapes, batch.padding.clone());
        let k = emissions.dims()[2];
        let nll = self
            .crf
            .nll(emissions.clone(), batch.tags.clone(), Some(batch.padding));
        let n = batch.real.dims()[0].max(1);
        let loss = nll.sum() / n as f32;
        let logits = emissions.reshape([b * t, k]).select(0, batch.real.clone());
        let targets = batch.tags.reshape([b * t]).select(0, batch.real);
        ClassificationStep {
            loss,
            logits,
            targets,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::device;
    use burn::optim::{AdamConfig, GradientsParams};

    /// The tagger learns a toy rule (tag 1 after token 3, else tag 2 on token 4, else 0)
    /// within a few dozen Adam steps, and decodes padded batches.
    #[test]
    fn learns_a_toy_tagging_rule() {
        let dev = device().autodiff();
        dev.seed(1);
        let rule = |toks: &[usize]| -> Vec<usize> {
            toks.iter()
                .enumerate()
                .map(|(i, &x)| {
                    if i > 0 && toks[i - 1] == 3 {
                        1
                    } else if x == 4 {
                        2
                    } else {
                        0
                    }
                })
                .collect()
        };
        let sents: Vec<Vec<usize>> = vec![
            vec![2, 3, 5, 4, 2],
            vec![4, 3, 3, 2],
            vec![5, 5, 3],
            vec![3, 4, 4, 5, 3, 2],
        ];
        let items: Vec<_> = sents
            .iter()
            .map(|s| (s.clone(), vec![1; s.len()], rule(s)))
            .collect();
        let mut model = BiLstmCrfConfig::new(6, 3)
            .with_d_embed(8)
            .with_d_hidden(8)
            .with_dropout(0.0)
            .with_num_shapes(2)
            .init(&dev);
        let mut optim = AdamConfig::new().init();
        let batch = TaggingBatch::new(&items, true, &dev);
        let first = model.step(batch.clone()).loss.into_scalar::<f32>();
        for _ in 0..60 {
            let loss = model.step(batch.clone()).loss;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(0.05, model, grads);
        }
        let last = model.step(batch.clone()).loss.into_scalar::<f32>();
        assert!(last < first * 0.2, "{first} → {last}");
        let decoded =
            model
                .valid()
                .decode(&TaggingBatch::new(&items, true, &dev.without_autodiff()));
        let gold: Vec<Vec<usize>> = sents.iter().map(|s| rule(s)).collect();
        assert_eq!(decoded, gold);
    }
}
