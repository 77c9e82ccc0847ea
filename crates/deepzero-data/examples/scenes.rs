//! Renders a few digit scenes from the shipped MNIST sample and writes them as PNG files with
//! their boxes listed in `boxes.txt`, to look at what detection and segmentation train on.
//!
//! `cargo run --release -p deepzero-data --example scenes -- [OUT_DIR] [MNIST_DIR]`

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use deepzero_data::scenes::{SceneConfig, render_scenes};
use deepzero_data::{IdxCorpus, Split};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "runs/scenes".into()));
    let data = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/mnist-sample")
    });
    let mnist = IdxCorpus::Mnist.load(&data, Split::Test)?;
    let config = SceneConfig {
        clutter: 3,
        ..SceneConfig::default()
    };
    let scenes = render_scenes(&[&mnist], &config, 8)?;
    std::fs::create_dir_all(&out)?;
    let mut boxes = String::new();
    for (index, scene) in scenes.scenes.iter().enumerate() {
        scene.save_png(&out.join(format!("scene-{index}.png")))?;
        for object in &scene.objects {
            let [x0, y0, x1, y1] = object.bbox;
            let name = &scenes.class_names[object.class];
            writeln!(boxes, "scene-{index}.png {name} {x0} {y0} {x1} {y1}")?;
        }
    }
    std::fs::write(out.join("boxes.txt"), &boxes)?;
    print!("{boxes}");
    println!("wrote {} scenes to {}", scenes.scenes.len(), out.display());
    Ok(())
}
