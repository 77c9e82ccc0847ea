//! 2-D convolution and both of its gradients as one GEMM per image and group over an NCHW
//! im2col buffer (a deepzero patch; see `patches/burn-flex.diff` in the deepzero repository).
//!
//! Upstream burn-flex lifts every 2-D convolution to its 3-D path (an NHWC copy of the input,
//! an im2col tile per 512 output pixels, a scatter of each tile's result), and burn's default
//! backward runs the input gradient as a transposed 3-D convolution and the weight gradient as a
//! convolution whose kernel is the batch. On small-channel layers (LeNet, ResNet-20) those paths
//! spend more time moving data than multiplying. Here, for one image of shape `[C, H, W]`, with
//! `K = C/G · kh · kw` and `P = OH · OW`:
//!
//! - `cols[K·G, P]`, row `(c·kh + i)·kw + j`, column `oy·OW + ox`, holds
//!   `x[c, oy·sh + i·dh − ph, ox·sw + j·dw − pw]` (zero outside the input): the rows of group
//!   `g` are the contiguous block `g`, and in NCHW each row is a strided copy of one input row;
//! - forward: `y_g[O/G, P] = W_g[O/G, K] · cols_g[K, P]`, written straight into the image's
//!   NCHW output (no transpose, no scatter), the bias pre-filled and accumulated onto;
//! - weight gradient: `∂W_g += ∂y_g[O/G, P] · cols_gᵀ[P, K]`, summed over the images;
//! - input gradient: `∂cols_g[K, P] = W_gᵀ[K, O/G] · ∂y_g[O/G, P]`, then `col2im` adds every
//!   column entry back onto the input pixel it was copied from.
//!
//! A 1×1 convolution with stride 1 and no padding needs no `cols`: the image itself is the
//! `[C, H·W]` matrix. Images run in parallel (one scratch buffer per rayon worker) when there are
//! at least as many images as threads; otherwise they run one after the other and the GEMMs
//! themselves are split.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Add;

use burn_backend::Element;
use burn_backend::ops::ConvOptions;
use burn_std::Shape;

use crate::FlexTensor;

/// The element types the GEMM kernels take (`f32`, `f64`, `f16`).
pub(crate) trait ConvScalar:
    Element + bytemuck::Pod + Add<Output = Self> + Send + Sync + 'static
{
    const ZERO: Self;
    const ONE: Self;
}

impl ConvScalar for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl ConvScalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl ConvScalar for burn_std::f16 {
    const ZERO: Self = burn_std::f16::ZERO;
    const ONE: Self = burn_std::f16::ONE;
}

/// Sizes of one 2-D convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub batch: usize,
    pub channels_in: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels_out: usize,
    pub groups: usize,
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub out_h: usize,
    pub out_w: usize,
}

impl Geometry {
    /// The sizes of `conv2d(x, weight)` with `options`; the output size follows from the
    /// padding at both ends (it may differ at the start and the end).
    pub fn new(x: &Shape, weight: &Shape, options: &ConvOptions<2>) -> Self {
        let [pad_h, pad_w] = options.padding;
        let out = |size: usize, kernel: usize, axis: usize, (begin, end): (usize, usize)| {
            let span = options.dilation[axis] * (kernel - 1) + 1;
            let padded = size + begin + end;
            assert!(
                padded >= span,
                "conv2d: the kernel ({span} wide with dilation) is larger than the padded input ({padded})"
            );
            (padded - span) / options.stride[axis] + 1
        };
        let geometry = Self {
            batch: x[0],
            channels_in: x[1],
            in_h: x[2],
            in_w: x[3],
            channels_out: weight[0],
            groups: options.groups,
            kernel: [weight[2], weight[3]],
            stride: options.stride,
            padding: options.padding_begin(),
            dilation: options.dilation,
            out_h: out(x[2], weight[2], 0, pad_h),
            out_w: out(x[3], weight[3], 1, pad_w),
        };
        assert_eq!(
            weight[1] * options.groups,
            x[1],
            "conv2d: the weight takes {} channels per group × {} groups, the input has {}",
            weight[1],
            options.groups,
            x[1]
        );
        assert_eq!(
            weight[0] % options.groups,
            0,
            "conv2d: {} output channels do not split into {} groups",
            weight[0],
            options.groups
        );
        geometry
    }

    /// The same convolution with the output size of a given output gradient (`[N, O, OH, OW]`).
    fn with_output(mut self, out: &Shape) -> Self {
        assert_eq!(
            [out[0], out[1]],
            [self.batch, self.channels_out],
            "conv2d backward: output gradient of the wrong batch or channel count"
        );
        self.out_h = out[2];
        self.out_w = out[3];
        self
    }

    /// Rows of one group's block of `cols`: `C/G · kh · kw`.
    fn group_rows(&self) -> usize {
        self.channels_in / self.groups * self.kernel[0] * self.kernel[1]
    }

    fn out_channels_per_group(&self) -> usize {
        self.channels_out / self.groups
    }

    fn out_pixels(&self) -> usize {
        self.out_h * self.out_w
    }

    fn in_pixels(&self) -> usize {
        self.in_h * self.in_w
    }

    /// A 1×1 convolution with stride 1 and no padding: the image is its own `cols`.
    fn is_pointwise(&self) -> bool {
        self.kernel == [1, 1]
            && self.stride == [1, 1]
            && self.padding == [0, 0]
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }

    fn cols_len(&self) -> usize {
        if self.is_pointwise() {
            0
        } else {
            self.groups * self.group_rows() * self.out_pixels()
        }
    }

    /// Whether the images run in parallel (each GEMM on one thread) rather than one after
    /// the other with the GEMMs split.
    fn images_in_parallel(&self) -> bool {
        #[cfg(feature = "rayon")]
        {
            self.batch >= rayon::current_num_threads() && self.batch > 1
        }
        #[cfg(not(feature = "rayon"))]
        {
            false
        }
    }

    /// How a GEMM of `m × n × k` splits: not at all inside a parallel loop over images.
    fn gemm_parallelism(&self, m: usize, n: usize, k: usize) -> gemm::Parallelism {
        if self.images_in_parallel() {
            gemm::Parallelism::None
        } else {
            super::matmul::get_parallelism(m, n, k)
        }
    }
}

/// The output columns `ox` whose input column `ox·stride + offset` lies in `[0, size)`.
fn valid_outputs(out: usize, size: usize, stride: usize, offset: isize) -> (usize, usize) {
    let first = if offset >= 0 {
        0
    } else {
        ((-offset) as usize).div_ceil(stride)
    };
    let last = if (size as isize) - offset <= 0 {
        0
    } else {
        ((size as isize - offset - 1) as usize / stride + 1).min(out)
    };
    (first.min(last), last)
}

/// Where one `cols` row reads its input columns: the output columns `first..last` read input
/// column `base + (ox − first)·stride`; the others are padding.
#[derive(Clone, Copy)]
struct ColumnWindow {
    first: usize,
    last: usize,
    base: usize,
}

/// Visits every `cols` row segment of one image — row `(c·kh + i)·kw + j`, output row `oy` —
/// with the index of its first value in `cols`, the offset of input row `(c, iy)` in the image
/// (`None` in the padding) and the row's [`ColumnWindow`]. The windows depend on `j` only and
/// the input rows on `(i, oy)`, so both are computed once per call, not per segment.
fn for_each_row(g: &Geometry, mut visit: impl FnMut(usize, Option<usize>, ColumnWindow)) {
    let [kh, kw] = g.kernel;
    let windows: Vec<ColumnWindow> = (0..kw)
        .map(|j| {
            let offset = (j * g.dilation[1]) as isize - g.padding[1] as isize;
            let (first, last) = valid_outputs(g.out_w, g.in_w, g.stride[1], offset);
            let base = if first < last {
                ((first * g.stride[1]) as isize + offset) as usize
            } else {
                0
            };
            ColumnWindow { first, last, base }
        })
        .collect();
    let input_rows: Vec<Option<usize>> = (0..kh)
        .flat_map(|i| {
            (0..g.out_h).map(move |oy| {
                let iy = (oy * g.stride[0] + i * g.dilation[0]) as isize - g.padding[0] as isize;
                (iy >= 0 && (iy as usize) < g.in_h).then_some(iy as usize * g.in_w)
            })
        })
        .collect();
    let mut start = 0;
    for c in 0..g.channels_in {
        let plane = c * g.in_pixels();
        for rows in input_rows.chunks_exact(g.out_h) {
            for &window in &windows {
                for &row in rows {
                    visit(start, row.map(|row| plane + row), window);
                    start += g.out_w;
                }
            }
        }
    }
}

/// Fills `cols` (`[C·kh·kw, OH·OW]`) from one image `x` (`[C, H, W]`).
fn im2col<T: ConvScalar>(x: &[T], g: &Geometry, cols: &mut [T]) {
    let (stride, out_w, in_w) = (g.stride[1], g.out_w, g.in_w);
    for_each_row(g, |start, row, window| {
        let dst = &mut cols[start..start + out_w];
        let Some(row) = row else {
            dst.fill(T::ZERO);
            return;
        };
        let ColumnWindow { first, last, base } = window;
        dst[..first].fill(T::ZERO);
        dst[last..].fill(T::ZERO);
        let src = &x[row..row + in_w];
        if stride == 1 {
            dst[first..last].copy_from_slice(&src[base..base + last - first]);
        } else {
            for (k, value) in dst[first..last].iter_mut().enumerate() {
                *value = src[base + k * stride];
            }
        }
    });
}

/// Adds every entry of `cols` (`[C·kh·kw, OH·OW]`) onto the pixel of `dx` (`[C, H, W]`) it
/// was copied from by [`im2col`]; `dx` must start at zero.
fn col2im<T: ConvScalar>(cols: &[T], g: &Geometry, dx: &mut [T]) {
    let (stride, in_w) = (g.stride[1], g.in_w);
    for_each_row(g, |start, row, window| {
        let Some(row) = row else { return };
        let ColumnWindow { first, last, base } = window;
        let src = &cols[start + first..start + last];
        let dst = &mut dx[row..row + in_w];
        if stride == 1 {
            for (d, &s) in dst[base..base + src.len()].iter_mut().zip(src) {
                *d = *d + s;
            }
        } else {
            for (k, &s) in src.iter().enumerate() {
                let d = &mut dst[base + k * stride];
                *d = *d + s;
            }
        }
    });
}

/// `dst[m, n] (+)= lhs[m, k] · rhs[k, n]`, each operand given by its row and column strides.
#[allow(clippy::too_many_arguments)]
fn gemm<T: ConvScalar>(
    [m, n, k]: [usize; 3],
    dst: *mut T,
    accumulate: bool,
    lhs: (*const T, [isize; 2]),
    rhs: (*const T, [isize; 2]),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: every caller passes pointers to buffers that hold the whole `m × k`, `k × n` and
    // row-major `m × n` matrices at the given strides, and `dst` overlaps neither operand.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.0,
            lhs.1[1],
            lhs.1[0],
            rhs.0,
            rhs.1[1],
            rhs.1[0],
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Runs `work(image, scratch)` for every image: in parallel where [`Geometry`] says so, as one
/// contiguous range of images per rayon worker; each range uses one scratch buffer of
/// `scratch_len` values.
fn for_each_image<T: ConvScalar>(
    g: &Geometry,
    scratch_len: usize,
    work: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    for_each_image_range(g, |images| {
        with_scratch::<T, _>(scratch_len, |scratch| {
            for image in images {
                work(image, scratch);
            }
        })
    });
}

/// Calls `run` on contiguous ranges that cover `0..batch`: one range per rayon worker when
/// the images run in parallel, else one range.
fn for_each_image_range(g: &Geometry, run: impl Fn(core::ops::Range<usize>) + Send + Sync) {
    #[cfg(feature = "rayon")]
    if g.images_in_parallel() {
        use rayon::prelude::*;
        let ranges = rayon::current_num_threads().min(g.batch);
        let per_range = g.batch.div_ceil(ranges);
        (0..ranges).into_par_iter().for_each(|r| {
            run(r * per_range..((r + 1) * per_range).min(g.batch));
        });
        return;
    }
    run(0..g.batch)
}

#[cfg(feature = "std")]
std::thread_local! {
    /// Each thread's im2col buffer, kept between calls: a training step runs dozens of
    /// convolutions of a few sizes, and fresh buffers of that size cost page faults.
    static SCRATCH: core::cell::RefCell<Vec<u64>> = const { core::cell::RefCell::new(Vec::new()) };
}

/// Runs `work` with a buffer of `len` values (their contents are unspecified: callers
/// overwrite what they read).
fn with_scratch<T: ConvScalar, R>(len: usize, work: impl FnOnce(&mut [T]) -> R) -> R {
    let words = (len * core::mem::size_of::<T>()).div_ceil(8);
    #[cfg(feature = "std")]
    {
        let reused = SCRATCH.with(|cell| {
            cell.try_borrow_mut().ok().map(|mut buffer| {
                if buffer.len() < words {
                    buffer.resize(words, 0);
                }
                // Taken out of the cell so that a nested call (none today) gets its own.
                core::mem::take(&mut *buffer)
            })
        });
        if let Some(mut buffer) = reused {
            let values: &mut [T] = &mut bytemuck::cast_slice_mut(&mut buffer[..words])[..len];
            let result = work(values);
            SCRATCH.with(|cell| {
                let mut slot = cell.borrow_mut();
                if slot.len() < buffer.len() {
                    *slot = buffer;
                }
            });
            return result;
        }
    }
    let mut buffer = vec![0u64; words];
    work(&mut bytemuck::cast_slice_mut(&mut buffer[..])[..len])
}

/// A `Vec` of `len` values, every one of which `write` overwrites.
///
/// # Safety
/// `write` must initialise all `len` values.
unsafe fn overwritten<T: ConvScalar>(len: usize, write: impl FnOnce(*mut T)) -> Vec<T> {
    let mut values = Vec::<T>::with_capacity(len);
    write(values.as_mut_ptr());
    // SAFETY: the caller guarantees that `write` initialised all `len` values.
    unsafe { values.set_len(len) };
    values
}

/// Pointer to a buffer that rayon workers write at disjoint offsets.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);

// SAFETY: used only for disjoint per-image slices of one allocation that outlives the loop.
unsafe impl<T> Send for Shared<T> {}
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// # Safety
    /// `offset + len` must lie within the allocation, and no other thread may use that range.
    unsafe fn slice<'a>(self, offset: usize, len: usize) -> &'a mut [T] {
        unsafe { core::slice::from_raw_parts_mut(self.0.add(offset), len) }
    }
}

/// `conv2d(x, weight) + bias`.
///
/// # Shapes
/// - x: `[N, C, H, W]`, weight: `[O, C/G, kh, kw]`, bias: `[O]`
/// - output: `[N, O, OH, OW]`
pub(crate) fn forward<T: ConvScalar>(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options);
    let (x, weight) = (x.to_contiguous(), weight.to_contiguous());
    let bias = bias.map(|b| b.to_contiguous());
    let (x, w) = (x.storage::<T>(), weight.storage::<T>());
    let bias = bias.as_ref().map(|b| b.storage::<T>());
    let (rows, og, pixels) = (g.group_rows(), g.out_channels_per_group(), g.out_pixels());
    let out_len = g.batch * g.channels_out * pixels;
    // SAFETY: every image's `[O, P]` block is written below: bias rows first when there is a
    // bias, then each group's GEMM overwrites (no bias) or adds onto (bias) its rows.
    let output = unsafe {
        overwritten::<T>(out_len, |out| {
            let out = Shared(out);
            for_each_image::<T>(&g, g.cols_len(), |image, cols| {
                let x =
                    &x[image * g.channels_in * g.in_pixels()..][..g.channels_in * g.in_pixels()];
                let y = out.slice(image * g.channels_out * pixels, g.channels_out * pixels);
                if let Some(bias) = bias {
                    for (row, &b) in y.chunks_exact_mut(pixels).zip(bias) {
                        row.fill(b);
                    }
                }
                let cols: &[T] = if g.is_pointwise() {
                    x
                } else {
                    im2col(x, &g, cols);
                    cols
                };
                for group in 0..g.groups {
                    gemm(
                        [og, pixels, rows],
                        y[group * og * pixels..].as_mut_ptr(),
                        bias.is_some(),
                        (w[group * og * rows..].as_ptr(), [rows as isize, 1]),
                        (cols[group * rows * pixels..].as_ptr(), [pixels as isize, 1]),
                        g.gemm_parallelism(og, pixels, rows),
                    );
                }
            });
        })
    };
    FlexTensor::new(
        burn_std::Bytes::from_elems(output),
        crate::Layout::contiguous(Shape::from(vec![g.batch, g.channels_out, g.out_h, g.out_w])),
        T::dtype(),
    )
}

/// `∂L/∂x` of `conv2d(x, weight)` from `∂L/∂y`.
///
/// # Shapes
/// - x: `[N, C, H, W]` (only its shape is read), weight: `[O, C/G, kh, kw]`,
///   output_grad: `[N, O, OH, OW]`
/// - output: `[N, C, H, W]`
pub(crate) fn x_backward<T: ConvScalar>(
    x: &FlexTensor,
    weight: FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options)
        .with_output(output_grad.layout().shape());
    let (weight, dy) = (weight.to_contiguous(), output_grad.to_contiguous());
    let (w, dy) = (weight.storage::<T>(), dy.storage::<T>());
    let (rows, og, pixels) = (g.group_rows(), g.out_channels_per_group(), g.out_pixels());
    let image_len = g.channels_in * g.in_pixels();
    let mut dx = vec![T::ZERO; g.batch * image_len];
    let shared = Shared(dx.as_mut_ptr());
    for_each_image::<T>(&g, g.cols_len(), |image, cols| {
        // SAFETY: image `image`'s block of `dx`, written by this call only.
        let dx = unsafe { shared.slice(image * image_len, image_len) };
        let dy = &dy[image * g.channels_out * pixels..][..g.channels_out * pixels];
        // The pointwise case writes `∂cols` (= `∂x`) straight into `dx`.
        let dcols: &mut [T] = if g.is_pointwise() { dx } else { cols };
        for group in 0..g.groups {
            gemm(
                [rows, pixels, og],
                dcols[group * rows * pixels..].as_mut_ptr(),
                false,
                // W_gᵀ: element (k, o) of the transpose is w[o·rows + k].
                (w[group * og * rows..].as_ptr(), [1, rows as isize]),
                (dy[group * og * pixels..].as_ptr(), [pixels as isize, 1]),
                g.gemm_parallelism(rows, pixels, og),
            );
        }
        if !g.is_pointwise() {
            // SAFETY: as above; `dcols` is the scratch buffer here, not `dx`.
            let dx = unsafe { shared.slice(image * image_len, image_len) };
            col2im(cols, &g, dx);
        }
    });
    FlexTensor::new(
        burn_std::Bytes::from_elems(dx),
        crate::Layout::contiguous(x.layout().shape().clone()),
        T::dtype(),
    )
}

/// `∂L/∂weight` of `conv2d(x, weight)` from `∂L/∂y`, summed over the batch.
///
/// # Shapes
/// - x: `[N, C, H, W]`, weight: `[O, C/G, kh, kw]` (only its shape is read),
///   output_grad: `[N, O, OH, OW]`
/// - output: `[O, C/G, kh, kw]`
pub(crate) fn weight_backward<T: ConvScalar>(
    x: FlexTensor,
    weight: &FlexTensor,
    output_grad: FlexTensor,
    options: &ConvOptions<2>,
) -> FlexTensor {
    let g = Geometry::new(x.layout().shape(), weight.layout().shape(), options)
        .with_output(output_grad.layout().shape());
    let (x, dy) = (x.to_contiguous(), output_grad.to_contiguous());
    let (x, dy) = (x.storage::<T>(), dy.storage::<T>());
    let (rows, og, pixels) = (g.group_rows(), g.out_channels_per_group(), g.out_pixels());
    let weight_len = g.channels_out * rows;
    // One image's contribution added onto `dw` (`[O, C/G·kh·kw]`).
    let accumulate = |image: usize, cols: &mut [T], dw: &mut [T]| {
        let x = &x[image * g.channels_in * g.in_pixels()..][..g.channels_in * g.in_pixels()];
        let dy = &dy[image * g.channels_out * pixels..][..g.channels_out * pixels];
        let cols: &[T] = if g.is_pointwise() {
            x
        } else {
            im2col(x, &g, cols);
            cols
        };
        for group in 0..g.groups {
            gemm(
                [og, rows, pixels],
                dw[group * og * rows..].as_mut_ptr(),
                true,
                (dy[group * og * pixels..].as_ptr(), [pixels as isize, 1]),
                // cols_gᵀ: element (p, k) of the transpose is cols[k·pixels + p].
                (cols[group * rows * pixels..].as_ptr(), [1, pixels as isize]),
                g.gemm_parallelism(og, rows, pixels),
            );
        }
    };
    let dw = sum_over_images(&g, weight_len, accumulate);
    FlexTensor::new(
        burn_std::Bytes::from_elems(dw),
        crate::Layout::contiguous(weight.layout().shape().clone()),
        T::dtype(),
    )
}

/// `Σ_images accumulate(image, scratch, sum)` into a zeroed `[len]` sum: one partial sum per
/// range of images (see [`for_each_image_range`]), added up at the end.
fn sum_over_images<T: ConvScalar>(
    g: &Geometry,
    len: usize,
    accumulate: impl Fn(usize, &mut [T], &mut [T]) + Send + Sync,
) -> Vec<T> {
    let partial = |images: core::ops::Range<usize>| {
        let mut sum = vec![T::ZERO; len];
        with_scratch::<T, _>(g.cols_len(), |cols| {
            for image in images {
                accumulate(image, cols, &mut sum);
            }
        });
        sum
    };
    #[cfg(feature = "rayon")]
    if g.images_in_parallel() {
        use rayon::prelude::*;
        let ranges = rayon::current_num_threads().min(g.batch);
        let per_range = g.batch.div_ceil(ranges);
        return (0..ranges)
            .into_par_iter()
            .map(|r| partial(r * per_range..((r + 1) * per_range).min(g.batch)))
            .reduce_with(|mut a, b| {
                for (a, b) in a.iter_mut().zip(b) {
                    *a = *a + b;
                }
                a
            })
            .unwrap_or_else(|| vec![T::ZERO; len]);
    }
    partial(0..g.batch)
}

/// `∂L/∂bias` of a 2-D convolution: `∂L/∂y` summed over the batch and the pixels.
///
/// # Shapes
/// - output_grad: `[N, O, OH, OW]`; output: `[O]`
pub(crate) fn bias_backward<T: ConvScalar>(output_grad: FlexTensor) -> FlexTensor {
    let shape = output_grad.layout().shape().clone();
    let (batch, channels, pixels) = (shape[0], shape[1], shape[2] * shape[3]);
    let dy = output_grad.to_contiguous();
    let dy = dy.storage::<T>();
    let mut db = vec![T::ZERO; channels];
    for image in dy.chunks_exact(channels * pixels).take(batch) {
        for (sum, row) in db.iter_mut().zip(image.chunks_exact(pixels)) {
            *sum = row.iter().fold(*sum, |acc, &v| acc + v);
        }
    }
    FlexTensor::new(
        burn_std::Bytes::from_elems(db),
        crate::Layout::contiguous(Shape::from(vec![channels])),
        T::dtype(),
    )
}

#[cfg(test)]
mod tests {
    //! Every result against a plain loop over the definition, accumulated in f64, through the
    //! backend's `ModuleOps` entry points (so the dispatch is tested too).
    use super::*;
    use crate::Flex;
    use burn_backend::TensorData;
    use burn_backend::ops::ModuleOps;

    /// One convolution: input `[n, c, h, w]`, `o` outputs, `groups`, kernel, stride,
    /// padding `(begin, end)` per axis, dilation.
    #[derive(Clone, Copy, Debug)]
    struct Case {
        input: [usize; 4],
        out_channels: usize,
        groups: usize,
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [(usize, usize); 2],
        dilation: [usize; 2],
    }

    fn case(
        input: [usize; 4],
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> Case {
        Case {
            input,
            out_channels,
            groups: 1,
            kernel: [kernel, kernel],
            stride: [stride, stride],
            padding: [(pad, pad), (pad, pad)],
            dilation: [1, 1],
        }
    }

    fn cases() -> Vec<Case> {
        vec![
            // ResNet-style 3×3, padding 1, batch larger than the thread count.
            case([5, 3, 7, 6], 4, 3, 1, 1),
            // Strided, batch of one (the GEMMs split instead of the images).
            case([1, 2, 9, 8], 3, 3, 2, 1),
            // LeNet-style 5×5 without padding.
            case([3, 1, 12, 12], 6, 5, 1, 0),
            // Pointwise (no im2col) and strided 1×1 (im2col).
            case([4, 6, 5, 5], 3, 1, 1, 0),
            case([4, 6, 5, 5], 3, 1, 2, 0),
            // Padding wider than the kernel's reach: whole rows and columns of zeros.
            case([2, 2, 2, 3], 2, 3, 1, 3),
            Case {
                input: [3, 4, 8, 7],
                out_channels: 6,
                groups: 2,
                kernel: [3, 2],
                stride: [2, 1],
                padding: [(1, 2), (0, 1)],
                dilation: [2, 1],
            },
            Case {
                input: [2, 4, 6, 6],
                out_channels: 4,
                groups: 4,
                kernel: [3, 3],
                stride: [1, 2],
                padding: [(1, 1), (2, 0)],
                dilation: [1, 2],
            },
        ]
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f64 / (1u64 << 24) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    struct Reference {
        out_shape: [usize; 4],
        y: Vec<f64>,
        dx: Vec<f64>,
        dw: Vec<f64>,
        db: Vec<f64>,
    }

    /// The definition, term by term, for input `x`, weight `w`, bias `b`, output gradient `dy`.
    fn reference(c: &Case, x: &[f64], w: &[f64], b: &[f64], dy_seed: u64) -> (Reference, Vec<f64>) {
        let [n, ch, h, wd] = c.input;
        let (o, g) = (c.out_channels, c.groups);
        let (cg, og) = (ch / g, o / g);
        let [kh, kw] = c.kernel;
        let out = |size: usize, axis: usize| {
            let (pb, pe) = c.padding[axis];
            (size + pb + pe - c.dilation[axis] * (c.kernel[axis] - 1) - 1) / c.stride[axis] + 1
        };
        let (oh, ow) = (out(h, 0), out(wd, 1));
        let dy = values(n * o * oh * ow, dy_seed);
        let mut r = Reference {
            out_shape: [n, o, oh, ow],
            y: vec![0.0; n * o * oh * ow],
            dx: vec![0.0; x.len()],
            dw: vec![0.0; w.len()],
            db: vec![0.0; o],
        };
        for img in 0..n {
            for oc in 0..o {
                let group = oc / og;
                for oy in 0..oh {
                    for ox in 0..ow {
                        let yi = ((img * o + oc) * oh + oy) * ow + ox;
                        let mut sum = b[oc];
                        for cl in 0..cg {
                            let ic = group * cg + cl;
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = (oy * c.stride[0] + i * c.dilation[0]) as isize
                                        - c.padding[0].0 as isize;
                                    let ix = (ox * c.stride[1] + j * c.dilation[1]) as isize
                                        - c.padding[1].0 as isize;
                                    if iy < 0 || ix < 0 || iy as usize >= h || ix as usize >= wd {
                                        continue;
                                    }
                                    let xi = ((img * ch + ic) * h + iy as usize) * wd + ix as usize;
                                    let wi = ((oc * cg + cl) * kh + i) * kw + j;
                                    sum += w[wi] * x[xi];
                                    r.dx[xi] += w[wi] * dy[yi];
                                    r.dw[wi] += x[xi] * dy[yi];
                                }
                            }
                        }
                        r.y[yi] = sum;
                        r.db[oc] += dy[yi];
                    }
                }
            }
        }
        (r, dy)
    }

    fn tensor<T: ConvScalar>(values: &[f64], shape: &[usize], cast: fn(f64) -> T) -> FlexTensor {
        FlexTensor::from_data(TensorData::new(
            values.iter().map(|&v| cast(v)).collect::<Vec<T>>(),
            shape.to_vec(),
        ))
    }

    fn assert_close<T: ConvScalar>(
        what: &str,
        got: FlexTensor,
        shape: &[usize],
        want: &[f64],
        to: fn(T) -> f64,
        tol: f64,
        c: &Case,
    ) {
        assert_eq!(
            got.layout().shape().to_vec(),
            shape.to_vec(),
            "{what} shape, {c:?}"
        );
        let got: Vec<T> = got.into_data().try_to_vec::<T>().unwrap();
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            let g = to(g);
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{what}[{k}] = {g}, want {w}, {c:?}"
            );
        }
    }

    fn check<T: ConvScalar>(cast: fn(f64) -> T, back: fn(T) -> f64, tol: f64) {
        for (seed, c) in cases().into_iter().enumerate() {
            let seed = seed as u64 * 4;
            let [n, ch, h, wd] = c.input;
            let w_shape = [c.out_channels, ch / c.groups, c.kernel[0], c.kernel[1]];
            let x = values(n * ch * h * wd, seed);
            let w = values(w_shape.iter().product(), seed + 1);
            let b = values(c.out_channels, seed + 2);
            let (r, dy) = reference(&c, &x, &w, &b, seed + 3);
            let options = ConvOptions::new_with_padding(c.stride, c.padding, c.dilation, c.groups);
            let xt = tensor(&x, &c.input, cast);
            let wt = tensor(&w, &w_shape, cast);
            let dyt = tensor(&dy, &r.out_shape, cast);
            let y = Flex::conv2d(
                xt.clone(),
                wt.clone(),
                Some(tensor(&b, &[c.out_channels], cast)),
                options.clone(),
            );
            assert_close("y", y, &r.out_shape, &r.y, back, tol, &c);
            let dx = Flex::conv2d_x_backward(xt.clone(), wt.clone(), dyt.clone(), options.clone());
            assert_close("dx", dx, &c.input, &r.dx, back, tol, &c);
            let dw = Flex::conv2d_weight_backward(xt.clone(), wt, dyt.clone(), options);
            assert_close("dw", dw, &w_shape, &r.dw, back, tol, &c);
            let db = Flex::conv2d_bias_backward(xt, tensor(&b, &[c.out_channels], cast), dyt);
            assert_close("db", db, &[c.out_channels], &r.db, back, tol, &c);
        }
    }

    #[test]
    fn f32_equals_the_definition() {
        check::<f32>(|v| v as f32, |v| v as f64, 1e-5);
    }

    #[test]
    fn f64_equals_the_definition() {
        check::<f64>(|v| v, |v| v, 1e-12);
    }

    #[test]
    fn f16_equals_the_definition() {
        check::<burn_std::f16>(burn_std::f16::from_f64, burn_std::f16::to_f64, 3e-2);
    }

    #[test]
    fn the_valid_output_range_keeps_inputs_in_bounds() {
        for out in 0..6 {
            for size in 1..7 {
                for stride in 1..4 {
                    for offset in -4isize..4 {
                        let (first, last) = valid_outputs(out, size, stride, offset);
                        for ox in 0..out {
                            let ix = (ox * stride) as isize + offset;
                            let inside = ix >= 0 && (ix as usize) < size;
                            assert_eq!(
                                inside,
                                (first..last).contains(&ox),
                                "{out} {size} {stride} {offset} {ox}"
                            );
                        }
                    }
                }
            }
        }
    }
}
