//! The options of `deepzero finetune` map onto the library's fine-tuning strategies, and
//! impossible combinations are usage errors before any work.

use clap::Parser;
use deepzero_cli::FinetuneArgs;
use deepzero_vision::tasks::finetune::Strategy;
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: FinetuneArgs,
}

fn parse(extra: &[&str]) -> FinetuneArgs {
    let mut argv = vec!["deepzero", "--from", "runs/x"];
    argv.extend_from_slice(extra);
    Cli::try_parse_from(argv).unwrap().args
}

#[test]
fn options_map_to_strategies() {
    assert_eq!(parse(&[]).strategy().unwrap(), Strategy::Full);
    assert_eq!(
        parse(&["--freeze", "none"]).strategy().unwrap(),
        Strategy::Full
    );
    assert_eq!(
        parse(&["--freeze", "backbone"]).strategy().unwrap(),
        Strategy::LinearProbe
    );
    assert_eq!(
        parse(&["--lora", "4"]).strategy().unwrap(),
        Strategy::Lora {
            rank: 4,
            alpha: 8.0
        }
    );
    assert_eq!(
        parse(&["--freeze", "backbone", "--unfreeze-after", "3"])
            .strategy()
            .unwrap(),
        Strategy::GradualUnfreeze {
            after: 3,
            factor: 0.1
        }
    );
    let args = parse(&["--classes-subset", "5,6,7", "--per-class", "10"]);
    assert_eq!(args.train.image.classes_subset, Some(vec![5, 6, 7]));
    assert_eq!(args.train.image.per_class, Some(10));
}

#[test]
fn impossible_combinations_are_usage_errors() {
    for (extra, needle) in [
        (vec!["--lora", "0"], "at least 1"),
        (vec!["--lora", "2", "--freeze", "none"], "frozen backbone"),
        (vec!["--lora-alpha", "2"], "needs --lora"),
        (vec!["--unfreeze-after", "2"], "needs --freeze backbone"),
        (
            vec!["--unfreeze-lr-factor", "0.5"],
            "needs --unfreeze-after",
        ),
    ] {
        let err = parse(&extra).strategy().unwrap_err().to_string();
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
}
