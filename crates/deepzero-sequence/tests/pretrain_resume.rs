//! Resuming a pre-training run continues it exactly. In a test binary of its own: the two runs
//! are compared exactly, and burn's generator (which initialises parameters) is global to the
//! process, so no other test may seed it while they train.

use deepzero_sequence::pretrain::{PretrainRunInfo, PretrainSource, PretrainSpec, train};
use deepzero_train::burn::prelude::Device;

#[path = "support/tiny_pretrain.rs"]
mod tiny_pretrain;
use tiny_pretrain::{tiny_corpus, tiny_settings, tiny_spec};

/// Three epochs in one go, and two epochs then a resumed third, end with the same model:
/// the resumed run draws the batches the uninterrupted one drew.
#[test]
fn a_resumed_run_continues_where_it_stopped() {
    let data = tempfile::tempdir().unwrap();
    tiny_corpus(data.path());
    let out = tempfile::tempdir().unwrap();
    let (straight, parted) = (out.path().join("a"), out.path().join("b"));
    let spec = tiny_spec();
    let a = train(&spec, &tiny_settings(data.path(), &straight, 3)).unwrap();
    train(&spec, &tiny_settings(data.path(), &parted, 3)).unwrap();
    // Interrupted during epoch 3: the latest checkpoint is epoch 2's.
    std::fs::write(
        parted.join("checkpoints/latest.json"),
        r#"{"epoch": 2, "dir": "epoch-0002"}"#,
    )
    .unwrap();
    let mut resumed = tiny_settings(data.path(), &parted, 3);
    resumed.resume = true;
    let b = train(&spec, &resumed).unwrap();
    assert_eq!(b.resumed_after, Some(2));
    assert_eq!(a.history.len(), 3);
    assert_eq!(b.history.len(), 3);
    let (la, lb) = (a.history[2].train_loss, b.history[2].train_loss);
    assert!((la - lb).abs() < 1e-5, "{la} vs {lb}");
    let (va, vb) = (a.valid["mlm_loss"].as_f64(), b.valid["mlm_loss"].as_f64());
    assert!((va.unwrap() - vb.unwrap()).abs() < 1e-5);
    // The run folder reads back as a pre-training run.
    let info = PretrainRunInfo::load(&straight, Some("en-bert-pretrain")).unwrap();
    let vocab = info.load_vocab(&straight).unwrap();
    assert_eq!(info.bert.vocab_size, vocab.len() + 3);
    info.load_model(&straight, &Device::flex()).unwrap();
    // A resume with another architecture is refused.
    let mut other = resumed.clone();
    other.fit.epochs = 4;
    let wider = PretrainSpec {
        d_model: 32,
        ..spec
    };
    let err = train(&wider, &other).unwrap_err().to_string();
    assert!(err.contains("different run"), "{err}");
}
