//! The options of `deepzero finetune` parse into the library's fine-tuning strategies (the
//! refused combinations are tested with `StrategyOptions` in deepzero-vision).

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
