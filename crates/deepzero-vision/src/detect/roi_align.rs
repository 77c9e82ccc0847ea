//! RoIAlign (He et al. 2017, Mask R-CNN §3): the features of arbitrary boxes pooled to a fixed
//! grid by bilinear sampling, exactly as `torchvision.ops.roi_align` computes them, and
//! differentiable with respect to the features.
//!
//! The sampling positions and bilinear weights depend only on the boxes, so they are worked out on
//! the CPU once; the features are then gathered with `select` and summed with `select_assign`,
//! which any burn backend runs and autodiff differentiates (as torchvision, no gradient flows into
//! the box coordinates).

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;

/// One region: the batch image it lies in and its box `[x_min, y_min, x_max, y_max]` in image
/// pixels (scaled to the feature map by [`RoiAlignOptions::spatial_scale`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Roi {
    /// Index of the image in the feature batch.
    pub batch: usize,
    /// The box in input-image coordinates.
    pub bbox: [f32; 4],
}

/// Options of [`roi_align`], named as torchvision's arguments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoiAlignOptions {
    /// `(height, width)` of the pooled grid.
    pub output_size: (usize, usize),
    /// Feature-map pixels per image pixel (`1 / stride`).
    pub spatial_scale: f32,
    /// Samples per bin side; `None` = adaptive, `ceil(roi side / output side)` (torchvision's `-1`).
    pub sampling_ratio: Option<usize>,
    /// Shift the box by half a pixel so pixel centres sit at `.5` (torchvision's `aligned=True`,
    /// what Detectron2 and torchvision's Mask R-CNN v2 use); `false` is the original RoIAlign.
    pub aligned: bool,
}

/// Pools `features` inside each region.
///
/// # Shapes
/// - `features`: `[N, C, H, W]`
/// - output: `[K, C, PH, PW]` for `K = rois.len()` and `output_size = (PH, PW)`
///
/// A region whose batch index is out of range, or that lies wholly outside the map, pools to
/// zeros (torchvision would read out of bounds for the former); an empty `rois` gives `[0, C, PH, PW]`.
pub fn roi_align(features: Tensor<4>, rois: &[Roi], options: &RoiAlignOptions) -> Tensor<4> {
    let [n, c, h, w] = features.dims();
    let (ph, pw) = options.output_size;
    let device = features.device();
    let k = rois.len();
    if k == 0 || h == 0 || w == 0 {
        return Tensor::zeros([k, c, ph, pw], &device);
    }
    let mut source = Vec::new();
    let mut target = Vec::new();
    let mut weight = Vec::new();
    for (r, roi) in rois.iter().enumerate() {
        if roi.batch >= n {
            continue;
        }
        let offset = if options.aligned { 0.5 } else { 0.0 };
        let s = options.spatial_scale;
        let (x0, y0) = (roi.bbox[0] * s - offset, roi.bbox[1] * s - offset);
        let (x1, y1) = (roi.bbox[2] * s - offset, roi.bbox[3] * s - offset);
        let (mut rw, mut rh) = (x1 - x0, y1 - y0);
        if !options.aligned {
            // the original RoIAlign forces malformed boxes to 1×1
            rw = rw.max(1.0);
            rh = rh.max(1.0);
        }
        let (bin_h, bin_w) = (rh / ph as f32, rw / pw as f32);
        let grid_h = options
            .sampling_ratio
            .unwrap_or((rh / ph as f32).ceil().max(0.0) as usize);
        let grid_w = options
            .sampling_ratio
            .unwrap_or((rw / pw as f32).ceil().max(0.0) as usize);
        let count = (grid_h * grid_w).max(1) as f32;
        for py in 0..ph {
            for px in 0..pw {
                let cell = (r * ph + py) * pw + px;
                for iy in 0..grid_h {
                    let y = y0 + py as f32 * bin_h + (iy as f32 + 0.5) * bin_h / grid_h as f32;
                    for ix in 0..grid_w {
                        let x = x0 + px as f32 * bin_w + (ix as f32 + 0.5) * bin_w / grid_w as f32;
                        for (pos, wt) in bilinear(y, x, h, w) {
                            source.push((roi.batch * h * w + pos) as i64);
                            target.push(cell as i64);
                            weight.push(wt / count);
                        }
                    }
                }
            }
        }
    }
    let out = Tensor::<2>::zeros([k * ph * pw, c], &device);
    if source.is_empty() {
        return out.reshape([k, ph, pw, c]).permute([0, 3, 1, 2]);
    }
    let m = source.len();
    // [N, C, H, W] → [N·H·W, C]: one row per feature-map position
    let rows = features.permute([0, 2, 3, 1]).reshape([n * h * w, c]);
    let picked = rows.select(0, Tensor::from_data(TensorData::new(source, [m]), &device));
    let weights = Tensor::<2>::from_data(TensorData::new(weight, [m, 1]), &device);
    let out = out.select_assign(
        0,
        Tensor::from_data(TensorData::new(target, [m]), &device),
        picked * weights,
        IndexingUpdateOp::Add,
    );
    out.reshape([k, ph, pw, c]).permute([0, 3, 1, 2])
}

/// The (up to four) map positions `y·W + x` and weights of a bilinear sample at `(y, x)`, with
/// torchvision's border rule: samples more than one pixel outside the map are zero, samples in
/// the border band are clamped to the edge.
fn bilinear(y: f32, x: f32, h: usize, w: usize) -> Vec<(usize, f32)> {
    if y < -1.0 || y > h as f32 || x < -1.0 || x > w as f32 {
        return Vec::new();
    }
    let (y_low, y_high, ly) = neighbours(y, h);
    let (x_low, x_high, lx) = neighbours(x, w);
    let (hy, hx) = (1.0 - ly, 1.0 - lx);
    vec![
        (y_low * w + x_low, hy * hx),
        (y_low * w + x_high, hy * lx),
        (y_high * w + x_low, ly * hx),
        (y_high * w + x_high, ly * lx),
    ]
}

/// The two grid lines around the coordinate `v` (at least -1) of an axis of `size` positions,
/// and `v`'s fraction of the way from the lower one: below 0 it is read as 0, and from the last
/// position on both lines are the last one (torchvision's border rule).
fn neighbours(v: f32, size: usize) -> (usize, usize, f32) {
    let v = v.max(0.0);
    let low = v as usize;
    if low >= size - 1 {
        (size - 1, size - 1, 0.0)
    } else {
        (low, low + 1, v - low as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_follow_the_border_rule() {
        assert_eq!(neighbours(2.25, 5), (2, 3, 0.25));
        assert_eq!(neighbours(-0.5, 5), (0, 1, 0.0));
        assert_eq!(neighbours(3.5, 5), (3, 4, 0.5));
        assert_eq!(neighbours(4.5, 5), (4, 4, 0.0));
        assert_eq!(neighbours(0.75, 1), (0, 0, 0.0));
    }

    #[test]
    fn one_bin_over_a_ramp_is_its_centre_value() {
        // f(y, x) = x on a 4×4 map; bilinear sampling of a linear function is exact, so a 1×1
        // bin over [0.5, 2.5]² (aligned: pixel centres at .5) pools to the mean x = 1.5 - 0.5 = 1.0
        let dev = Device::flex();
        let ramp: Vec<f32> = (0..16).map(|i| (i % 4) as f32).collect();
        let f = Tensor::<4>::from_data(TensorData::new(ramp, [1, 1, 4, 4]), &dev);
        let roi = Roi {
            batch: 0,
            bbox: [0.5, 0.5, 2.5, 2.5],
        };
        let opts = RoiAlignOptions {
            output_size: (1, 2),
            spatial_scale: 1.0,
            sampling_ratio: Some(2),
            aligned: true,
        };
        let v: Vec<f32> = roi_align(f, &[roi], &opts)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        // two bins across: x in [0, 1] and [1, 2] → means 0.5 and 1.5
        assert!(
            (v[0] - 0.5).abs() < 1e-6 && (v[1] - 1.5).abs() < 1e-6,
            "{v:?}"
        );
    }
}
