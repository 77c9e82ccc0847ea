//! YOLO v1 (Redmon et al. 2016, "You Only Look Once"), the seed's detector (chapter 3.2.3):
//! the image is cut into an `S × S` grid; each cell predicts `B` boxes, each with a confidence,
//! and **one set of `C` class probabilities** shared by its boxes, so the output is
//! `S × S × (5B + C)` (the seed says "1个类别概率"; see `docs/errata.md`).
//!
//! ```text
//! [N,C,H,W] → conv3 (w) → k × (conv3/2 → conv3), doubling the width, until H / 2^k = S
//!           → flatten → linear (hidden) → leaky ReLU(0.1) → dropout → linear → [N, S, S, 5B + C]
//! ```
//! A cell's numbers are `B × (x, y, √w, √h, confidence)` then `C` class probabilities: `x, y`
//! the box centre inside the cell (0..1), `√w, √h` the square roots of the box size relative to
//! the image, all linear outputs as in the paper (convolutions are `conv → batch norm → leaky
//! ReLU`, as the YOLOv3-style model's; the paper has no batch norm, YOLOv2 added it).
//!
//! The loss ([`yolo1_loss`]) is the paper's sum of squared errors (its equation 3), summed over
//! the batch and divided by the number of images:
//!
//! ```text
//! λ_coord Σ 1ᵒᵇʲᵢⱼ [(x − x̂)² + (y − ŷ)²] + λ_coord Σ 1ᵒᵇʲᵢⱼ [(√w − √ŵ)² + (√h − √ĥ)²]
//!   + Σ 1ᵒᵇʲᵢⱼ (C − Ĉ)² + λ_noobj Σ 1ⁿᵒᵒᵇʲᵢⱼ (C − 0)² + Σ 1ᵒᵇʲᵢ Σ_c (p(c) − p̂(c))²
//! ```
//! with `λ_coord = 5`, `λ_noobj = 0.5`. In a cell that holds an object's centre, the
//! *responsible* predictor `j` is the one whose current box has the highest IoU with the object,
//! and its confidence target `Ĉ` is that IoU (a constant: no gradient flows through it);
//! every other predictor, there and elsewhere, is pushed to confidence 0. A cell learns one
//! object: when two centres share a cell, the larger box keeps it (v1's known limit).

use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::leaky_relu;

use super::boxes::{Bbox, area, clip, iou};
use super::yolo_loss::YoloTarget;
use super::yolo3::{ConvBnLeaky, DecodeOptions, Detection, keep_best};

/// Configuration of [`Yolo1`].
#[derive(Config, Debug)]
pub struct Yolo1Config {
    /// Number of object classes `C`.
    pub num_classes: usize,
    /// Input side `H = W`; must be `grid · 2^k`.
    #[config(default = 64)]
    pub input_size: usize,
    /// Grid side `S` (the paper: 7 at 448 px).
    #[config(default = 4)]
    pub grid: usize,
    /// Boxes per cell `B` (the paper: 2).
    #[config(default = 2)]
    pub boxes_per_cell: usize,
    /// Input channels.
    #[config(default = 1)]
    pub in_channels: usize,
    /// Channels of the stem; each downsampling stage doubles them.
    #[config(default = 16)]
    pub width: usize,
    /// Width of the hidden fully connected layer (the paper: 4096).
    #[config(default = 256)]
    pub hidden: usize,
    /// Dropout after the hidden layer (the paper: 0.5).
    #[config(default = 0.5)]
    pub dropout: f64,
}

impl Yolo1Config {
    /// Numbers per cell, `5B + C`.
    pub fn cell_len(&self) -> usize {
        5 * self.boxes_per_cell + self.num_classes
    }

    /// The number `k` of stride-2 stages that take `input_size` to `grid`, if it is a power of
    /// two times the grid.
    pub fn downsamplings(&self) -> Option<usize> {
        if self.grid == 0 || !self.input_size.is_multiple_of(self.grid) {
            return None;
        }
        let ratio = self.input_size / self.grid;
        ratio
            .is_power_of_two()
            .then_some(ratio.trailing_zeros() as usize)
    }

    /// Builds the model with its parameters on `device`.
    ///
    /// # Panics
    /// When `input_size` is not `grid · 2^k`, or a size is 0 (a programming error: check
    /// [`Yolo1Config::downsamplings`] first for user input).
    pub fn init(&self, device: &Device) -> Yolo1 {
        let stages = self
            .downsamplings()
            .expect("YOLO v1: input_size must be grid · 2^k");
        assert!(
            self.num_classes > 0 && self.boxes_per_cell > 0 && self.width > 0,
            "YOLO v1: classes, boxes per cell and width must be at least 1"
        );
        let mut channels = self.width;
        let mut convs = vec![ConvBnLeaky::new(self.in_channels, channels, 3, 1, device)];
        for _ in 0..stages {
            convs.push(ConvBnLeaky::new(channels, 2 * channels, 3, 2, device));
            convs.push(ConvBnLeaky::new(2 * channels, 2 * channels, 3, 1, device));
            channels *= 2;
        }
        let cells = self.grid * self.grid;
        Yolo1 {
            convs,
            hidden: LinearConfig::new(channels * cells, self.hidden).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            output: LinearConfig::new(self.hidden, cells * self.cell_len()).init(device),
            grid: self.grid,
            boxes_per_cell: self.boxes_per_cell,
            num_classes: self.num_classes,
        }
    }
}

/// The YOLO v1 detector; see the module documentation.
#[derive(Module, Debug)]
pub struct Yolo1 {
    convs: Vec<ConvBnLeaky>,
    hidden: Linear,
    dropout: Dropout,
    output: Linear,
    #[module(skip)]
    grid: usize,
    #[module(skip)]
    boxes_per_cell: usize,
    #[module(skip)]
    num_classes: usize,
}

impl Yolo1 {
    /// The grid's layout: `(S, B, C)`.
    pub fn layout(&self) -> GridLayout {
        GridLayout {
            grid: self.grid,
            boxes_per_cell: self.boxes_per_cell,
            num_classes: self.num_classes,
        }
    }

    /// The grid of predictions.
    ///
    /// # Shapes
    /// - `images`: `[N, C_in, H, W]` with `H = W = input_size`
    /// - output: `[N, S, S, 5B + C]` (row, column, numbers of the cell)
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        let batch = images.dims()[0];
        let features = self.convs.iter().fold(images, |x, conv| conv.forward(x));
        let flat: Tensor<2> = features.flatten(1, 3);
        let hidden = leaky_relu(self.hidden.forward(flat), 0.1);
        let out = self.output.forward(self.dropout.forward(hidden));
        let layout = self.layout();
        out.reshape([batch, layout.grid, layout.grid, layout.cell_len()])
    }

    /// Detections for a batch of images (in input pixels).
    pub fn detect(&self, images: Tensor<4>, options: &DecodeOptions) -> Vec<Vec<Detection>> {
        let size = images.dims()[3] as f32;
        let grid = self.forward(images);
        let batch = grid.dims()[0];
        let values = grid.into_data().try_into_vec::<f32>().unwrap_or_default();
        self.layout().decode(&values, batch, size, options)
    }
}

/// Where a cell's numbers are: `S`, `B` and `C` of a [`Yolo1`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GridLayout {
    /// Grid side `S`.
    pub grid: usize,
    /// Boxes per cell `B`.
    pub boxes_per_cell: usize,
    /// Classes `C`.
    pub num_classes: usize,
}

impl GridLayout {
    /// Numbers per cell, `5B + C`.
    pub fn cell_len(&self) -> usize {
        5 * self.boxes_per_cell + self.num_classes
    }

    /// The box of predictor `(x, y, √w, √h)` in cell `(row, col)`, in pixels of an image of
    /// side `size`.
    pub fn decode_box(&self, p: &[f32], (row, col): (usize, usize), size: f32) -> Bbox {
        let cell = size / self.grid as f32;
        let (cx, cy) = ((col as f32 + p[0]) * cell, (row as f32 + p[1]) * cell);
        let (w, h) = (p[2] * p[2] * size, p[3] * p[3] * size);
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    /// The `(row, col)` cell holding a box's centre and the box as `(x, y, √w, √h)` targets.
    pub fn encode_box(&self, b: &Bbox, size: f32) -> ((usize, usize), [f32; 4]) {
        let s = self.grid as f32;
        let (cx, cy) = (
            (b[0] + b[2]) / 2.0 / size * s,
            (b[1] + b[3]) / 2.0 / size * s,
        );
        let col = (cx.floor().max(0.0) as usize).min(self.grid - 1);
        let row = (cy.floor().max(0.0) as usize).min(self.grid - 1);
        let (w, h) = ((b[2] - b[0]).max(0.0) / size, (b[3] - b[1]).max(0.0) / size);
        (
            (row, col),
            [cx - col as f32, cy - row as f32, w.sqrt(), h.sqrt()],
        )
    }

    /// Detections from the values of a `[N, S, S, 5B + C]` grid: class-specific confidence
    /// `C_j · p(c)` of each predictor for its best class, thresholded, per-class NMS.
    pub fn decode(
        &self,
        values: &[f32],
        batch: usize,
        size: f32,
        options: &DecodeOptions,
    ) -> Vec<Vec<Detection>> {
        let (k, b) = (self.cell_len(), self.boxes_per_cell);
        (0..batch)
            .map(|n| {
                let mut found = Vec::new();
                for row in 0..self.grid {
                    for col in 0..self.grid {
                        let at = ((n * self.grid + row) * self.grid + col) * k;
                        let cell = &values[at..at + k];
                        let (class, p) = cell[5 * b..].iter().enumerate().fold(
                            (0, f32::NEG_INFINITY),
                            |best, (c, &p)| {
                                if p > best.1 { (c, p) } else { best }
                            },
                        );
                        for j in 0..b {
                            let score = cell[5 * j + 4] * p;
                            if score >= options.score_threshold && score.is_finite() {
                                let bbox = self.decode_box(&cell[5 * j..], (row, col), size);
                                found.push(Detection {
                                    class,
                                    score,
                                    bbox: clip(&bbox, size, size),
                                });
                            }
                        }
                    }
                }
                keep_best(found, options)
            })
            .collect()
    }
}

/// The loss weights of the paper.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Yolo1LossConfig {
    /// `λ_coord` (5).
    pub coord: f32,
    /// `λ_noobj` (0.5).
    pub noobj: f32,
}

impl Default for Yolo1LossConfig {
    fn default() -> Self {
        Self {
            coord: 5.0,
            noobj: 0.5,
        }
    }
}

/// The targets and per-number weights of a batch: the loss is `Σ w · (prediction − target)²`.
#[derive(Clone, Debug, PartialEq)]
pub struct Yolo1Targets {
    /// `[N · S · S · (5B + C)]`, the grid's layout.
    pub targets: Vec<f32>,
    /// Same layout: `λ_coord`, 1, `λ_noobj` or 0 for each number.
    pub weights: Vec<f32>,
}

impl GridLayout {
    /// The targets and weights of the loss for a batch whose current predictions are `values`
    /// (needed to pick each object's responsible predictor and its confidence target).
    pub fn targets(
        &self,
        values: &[f32],
        objects: &[Vec<YoloTarget>],
        size: f32,
        config: &Yolo1LossConfig,
    ) -> Yolo1Targets {
        let (k, b) = (self.cell_len(), self.boxes_per_cell);
        let mut targets = vec![0.0; values.len()];
        let mut weights = vec![0.0; values.len()];
        // Every confidence is pushed to 0 unless a responsible predictor claims it below.
        for cell in weights.chunks_exact_mut(k) {
            for j in 0..b {
                cell[5 * j + 4] = config.noobj;
            }
        }
        for (n, image) in objects.iter().enumerate() {
            // Larger boxes first: the first object to reach a cell keeps it.
            let mut order: Vec<&YoloTarget> = image.iter().collect();
            order.sort_by(|a, b| area(&b.bbox).total_cmp(&area(&a.bbox)));
            let mut taken = vec![false; self.grid * self.grid];
            for object in order {
                let ((row, col), coded) = self.encode_box(&object.bbox, size);
                if std::mem::replace(&mut taken[row * self.grid + col], true) {
                    continue;
                }
                let at = ((n * self.grid + row) * self.grid + col) * k;
                let cell = &values[at..at + k];
                let (j, overlap) = (0..b)
                    .map(|j| {
                        let predicted = self.decode_box(&cell[5 * j..], (row, col), size);
                        (j, iou(&predicted, &object.bbox))
                    })
                    .fold(
                        (0, f32::NEG_INFINITY),
                        |best, c| if c.1 > best.1 { c } else { best },
                    );
                let t = &mut targets[at..at + k];
                let w = &mut weights[at..at + k];
                t[5 * j..5 * j + 4].copy_from_slice(&coded);
                w[5 * j..5 * j + 4].fill(config.coord);
                t[5 * j + 4] = overlap;
                w[5 * j + 4] = 1.0;
                t[5 * b + object.class] = 1.0;
                w[5 * b..].fill(1.0);
            }
        }
        Yolo1Targets { targets, weights }
    }
}

/// The YOLO v1 loss of a batch (module docs), `[1]`.
///
/// # Shapes
/// - `grid`: `[N, S, S, 5B + C]` from [`Yolo1::forward`]
pub fn yolo1_loss(
    grid: Tensor<4>,
    layout: GridLayout,
    objects: &[Vec<YoloTarget>],
    size: f32,
    config: &Yolo1LossConfig,
) -> Tensor<1> {
    let dims = grid.dims();
    let device = grid.device();
    let values = grid
        .clone()
        .into_data()
        .try_into_vec::<f32>()
        .unwrap_or_default();
    let t = layout.targets(&values, objects, size, config);
    let host = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, dims), &device);
    let (targets, weights) = (host(t.targets), host(t.weights));
    ((grid - targets).powi_scalar(2) * weights).sum() / dims[0].max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device::flex()
    }

    fn layout() -> GridLayout {
        GridLayout {
            grid: 2,
            boxes_per_cell: 2,
            num_classes: 2,
        }
    }

    #[test]
    fn shapes() {
        let dev = device();
        let model = Yolo1Config::new(3)
            .with_input_size(32)
            .with_grid(4)
            .with_width(4)
            .with_hidden(16)
            .init(&dev);
        let x = Tensor::<4>::zeros([2, 1, 32, 32], &dev);
        assert_eq!(model.forward(x).dims(), [2, 4, 4, 13]);
        assert_eq!(
            Yolo1Config::new(3).with_input_size(48).downsamplings(),
            None
        );
        assert_eq!(Yolo1Config::new(3).downsamplings(), Some(4)); // 64 → 4
    }

    #[test]
    fn encode_and_decode_are_inverse() {
        let l = layout();
        // A 20 × 10 box centred at (30, 10) in a 40-pixel image: cell (row 0, col 1).
        let b = [20.0, 5.0, 40.0, 15.0];
        let (cell, coded) = l.encode_box(&b, 40.0);
        assert_eq!(cell, (0, 1));
        let expected = [0.5, 0.5, 0.5f32.sqrt(), 0.25f32.sqrt()];
        for (got, want) in coded.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{coded:?}");
        }
        let back = l.decode_box(&coded, cell, 40.0);
        for (got, want) in back.iter().zip(b) {
            assert!((got - want).abs() < 1e-4, "{back:?}");
        }
    }

    /// One image, S = 2, B = 2, C = 2; every number 0 except where set.
    fn hand_case() -> (Vec<f32>, Vec<Vec<YoloTarget>>) {
        let l = layout();
        let mut values = vec![0.0f32; 4 * l.cell_len()];
        // Cell (0, 1): predictor 0 sits off the object, predictor 1 on its centre with half its
        // width and half its height (IoU 1/4); confidences 0.3 and 0.6, classes 0.2 / 0.7.
        let (sw, sh) = (0.5f32.sqrt(), 0.25f32.sqrt());
        let half = 0.5f32.sqrt();
        let cell = &mut values[l.cell_len()..2 * l.cell_len()];
        cell[..5].copy_from_slice(&[0.0, 0.0, 0.1, 0.1, 0.3]);
        cell[5..10].copy_from_slice(&[0.5, 0.5, sw * half, sh * half, 0.6]);
        cell[10..].copy_from_slice(&[0.2, 0.7]);
        // Cell (1, 0) has no object and confidence 0.4 in predictor 0.
        values[2 * l.cell_len() + 4] = 0.4;
        let object = YoloTarget {
            class: 1,
            bbox: [20.0, 5.0, 40.0, 15.0],
        };
        (values, vec![vec![object]])
    }

    #[test]
    fn the_loss_equals_the_papers_sum_on_a_hand_case() {
        let (l, config) = (layout(), Yolo1LossConfig::default());
        let (values, objects) = hand_case();
        let t = l.targets(&values, &objects, 40.0, &config);
        // Predictor 1 is responsible: its box is 10 × 5 at the object's centre, IoU 50/200.
        let cell = l.cell_len();
        assert!((t.targets[cell + 9] - 0.25).abs() < 1e-6);
        let (sw, sh) = (0.5f32.sqrt(), 0.25f32.sqrt());
        let half = 0.5f32.sqrt();
        let coord = 5.0 * ((sw * half - sw).powi(2) + (sh * half - sh).powi(2)); // x, y exact
        let obj = (0.6f32 - 0.25).powi(2);
        let noobj = 0.5 * (0.3f32.powi(2) + 0.4f32.powi(2));
        let class = 0.2f32.powi(2) + (0.7f32 - 1.0).powi(2);
        let expected = coord + obj + noobj + class;

        let dev = device();
        let grid = Tensor::<4>::from_data(TensorData::new(values, [1, 2, 2, 12]), &dev);
        let loss = yolo1_loss(grid, l, &objects, 40.0, &config).into_scalar::<f32>();
        assert!((loss - expected).abs() < 1e-5, "{loss} vs {expected}");
    }

    #[test]
    fn a_perfect_prediction_has_zero_loss_and_decodes_to_the_object() {
        let l = layout();
        let object = YoloTarget {
            class: 0,
            bbox: [2.0, 22.0, 14.0, 38.0],
        };
        let ((row, col), coded) = l.encode_box(&object.bbox, 40.0);
        let mut values = vec![0.0f32; 4 * l.cell_len()];
        let at = (row * 2 + col) * l.cell_len();
        values[at..at + 4].copy_from_slice(&coded);
        values[at + 4] = 1.0; // IoU of the exact box
        values[at + 10] = 1.0; // class 0
        let objects = vec![vec![object]];
        let dev = device();
        let grid = Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 2, 2, 12]), &dev);
        let loss = yolo1_loss(grid, l, &objects, 40.0, &Yolo1LossConfig::default());
        assert!(loss.into_scalar::<f32>() < 1e-10);
        let found = l.decode(&values, 1, 40.0, &DecodeOptions::default());
        assert_eq!(found[0].len(), 1);
        assert_eq!(found[0][0].class, 0);
        assert!(iou(&found[0][0].bbox, &object.bbox) > 0.999);
    }

    #[test]
    fn training_drives_the_loss_down_and_finds_the_objects() {
        use burn::optim::{AdamConfig, GradientsParams};
        let dev = device().autodiff();
        dev.seed(1);
        // Two 32-pixel images, one bright square each, in different cells and classes.
        let mut pixels = vec![0.0f32; 2 * 32 * 32];
        let objects = vec![
            vec![YoloTarget {
                class: 0,
                bbox: [2.0, 2.0, 14.0, 14.0],
            }],
            vec![YoloTarget {
                class: 1,
                bbox: [18.0, 16.0, 30.0, 30.0],
            }],
        ];
        for (n, image) in objects.iter().enumerate() {
            let [x0, y0, x1, y1] = image[0].bbox.map(|v| v as usize);
            for y in y0..y1 {
                for x in x0..x1 {
                    pixels[n * 1024 + y * 32 + x] = 1.0;
                }
            }
        }
        let images = Tensor::<4>::from_data(TensorData::new(pixels.clone(), [2, 1, 32, 32]), &dev);
        let mut model = Yolo1Config::new(2)
            .with_input_size(32)
            .with_grid(2)
            .with_width(4)
            .with_hidden(32)
            .with_dropout(0.0)
            .init(&dev);
        let mut optim = AdamConfig::new().init();
        let config = Yolo1LossConfig::default();
        let mut losses = Vec::new();
        for _ in 0..150 {
            let loss = yolo1_loss(
                model.forward(images.clone()),
                model.layout(),
                &objects,
                32.0,
                &config,
            );
            losses.push(loss.clone().into_scalar::<f32>());
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(3e-3, model, grads);
        }
        let (first, last) = (losses[0], *losses.last().unwrap());
        assert!(last < 0.05 * first, "loss {first} → {last}");
        let inner = dev.clone().without_autodiff();
        let images = Tensor::<4>::from_data(TensorData::new(pixels, [2, 1, 32, 32]), &inner);
        let found = model.valid().detect(images, &DecodeOptions::default());
        for (n, image) in objects.iter().enumerate() {
            let best = &found[n][0];
            assert_eq!(best.class, image[0].class);
            assert!(iou(&best.bbox, &image[0].bbox) > 0.5, "{:?}", best.bbox);
        }
    }
}
