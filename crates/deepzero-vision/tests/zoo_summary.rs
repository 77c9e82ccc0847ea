//! [`zoo_summary`]'s model table (what `deepzero summary` prints): defaults for the CIFAR and
//! small-input models, and bad requests as one-line errors.

use deepzero_vision::{SummaryOptions, zoo_summary};

#[test]
fn cifar_and_small_defaults() {
    let (title, s) = zoo_summary(&SummaryOptions::new("resnet20")).unwrap();
    assert!(title.contains("3×32×32, 10 classes"), "{title}");
    assert_eq!(s.trainable_params, 269_722);
    let small = SummaryOptions {
        small: true,
        ..SummaryOptions::new("resnet18")
    };
    let (_, s) = zoo_summary(&small).unwrap();
    assert_eq!(s.layers.last().unwrap().output_shape, [1, 10]);
    assert_eq!(s.layers[0].output_shape, [1, 64, 32, 32]);
}

#[test]
fn bad_requests_are_errors() {
    let err = zoo_summary(&SummaryOptions::new("resnet19"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown model `resnet19`"), "{err}");
    let err = zoo_summary(&SummaryOptions {
        small: true,
        ..SummaryOptions::new("resnet56")
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("the small-input variants are of the ImageNet models"),
        "{err}"
    );
    let err = zoo_summary(&SummaryOptions {
        input_size: Some(16),
        ..SummaryOptions::new("alexnet")
    })
    .unwrap_err()
    .to_string();
    assert!(err.contains("too small for alexnet"), "{err}");
}
