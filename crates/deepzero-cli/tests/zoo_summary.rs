//! `deepzero summary`'s model table: defaults for the CIFAR and small-input models, and bad
//! requests as usage errors.

use deepzero_cli::tasks::zoo::{SummaryArgs, model_summary};

fn args(model: &str) -> SummaryArgs {
    SummaryArgs {
        model: model.into(),
        input_size: None,
        classes: None,
        channels: 3,
        small: false,
    }
}

#[test]
fn cifar_and_small_defaults() {
    let (title, s) = model_summary(&args("resnet20")).unwrap();
    assert!(title.contains("3×32×32, 10 classes"), "{title}");
    assert_eq!(s.trainable_params, 269_722);
    let small = SummaryArgs {
        small: true,
        ..args("resnet18")
    };
    let (_, s) = model_summary(&small).unwrap();
    assert_eq!(s.layers.last().unwrap().output_shape, [1, 10]);
    assert_eq!(s.layers[0].output_shape, [1, 64, 32, 32]);
}

#[test]
fn bad_requests_are_usage_errors() {
    let err = model_summary(&args("resnet19")).unwrap_err().to_string();
    assert!(err.contains("unknown model `resnet19`"), "{err}");
    let err = model_summary(&SummaryArgs {
        small: true,
        ..args("resnet56")
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("the small-input variants are of the ImageNet models"),
        "{err}"
    );
    let err = model_summary(&SummaryArgs {
        input_size: Some(16),
        ..args("alexnet")
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("too small for alexnet"), "{err}");
}
