//! Detect objects with torchvision's COCO-trained Faster R-CNN: load its `.pth`, find the objects
//! in an image, print them and draw their boxes.
//!
//! ```text
//! # fasterrcnn_resnet50_fpn_coco-258fb6c6.pth from torchvision (FasterRCNN_ResNet50_FPN_Weights.COCO_V1)
//! cargo run --release -p deepzero-vision --example faster_rcnn_detect -- \
//!     fasterrcnn_resnet50_fpn_coco-258fb6c6.pth street.jpg boxes.png [MIN_SCORE]
//! ```
//! Prints one line per detection with a score ≥ `MIN_SCORE` (default 0.5): class name, score,
//! box in the image's pixels; writes the picture with those boxes to the third argument.

use std::path::PathBuf;

use burn::prelude::*;
use deepzero_vision::detect::draw::draw_boxes_file;
use deepzero_vision::detect::{COCO_CATEGORIES, FasterRcnnConfig, load_torchvision_faster_rcnn};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, image, picture, rest @ ..] = args.as_slice() else {
        return Err("usage: faster_rcnn_detect WEIGHTS.pth IMAGE OUT.png [MIN_SCORE]".into());
    };
    let min_score: f32 = rest.first().map_or(Ok(0.5), |s| s.parse())?;
    let device = Device::flex();
    let model = load_torchvision_faster_rcnn(
        FasterRcnnConfig::resnet50_fpn(COCO_CATEGORIES.len()).init(&device),
        weights.as_ref(),
    )?;
    let rgb = image::open(image)
        .map_err(|e| format!("{image}: {e}"))?
        .to_rgb8();
    let (w, h) = rgb.dimensions();
    // [H, W, 3] bytes → [3, H, W] in [0, 1], what the transform expects
    let pixels: Vec<f32> = rgb
        .into_raw()
        .into_iter()
        .map(|v| v as f32 / 255.0)
        .collect();
    let tensor = Tensor::<3>::from_data(
        TensorData::new(pixels, [h as usize, w as usize, 3]),
        &device,
    )
    .permute([2, 0, 1]);
    let start = std::time::Instant::now();
    let detections = model.detect(&[tensor]).remove(0);
    println!(
        "{} detections in {:.1} s",
        detections.len(),
        start.elapsed().as_secs_f32()
    );
    let kept: Vec<_> = detections.iter().filter(|d| d.score >= min_score).collect();
    for d in &kept {
        let name = COCO_CATEGORIES.get(d.class).copied().unwrap_or("?");
        let [x0, y0, x1, y1] = d.bbox;
        println!(
            "{name:>14} {:.3}  [{x0:.1}, {y0:.1}, {x1:.1}, {y1:.1}]",
            d.score
        );
    }
    let boxes: Vec<_> = kept.iter().map(|d| (d.class, d.bbox)).collect();
    draw_boxes_file(image.as_ref(), &boxes, &PathBuf::from(picture))?;
    println!("boxes drawn on {picture}");
    Ok(())
}
