//! Milliseconds per call of Flex's 2-D convolution, input gradient and weight gradient on the
//! shapes of LeNet-5 and ResNet-20 (`cargo run --release --example conv2d_speed`).
use burn_backend::TensorData;
use burn_backend::ops::{ConvOptions, ModuleOps};
use burn_flex::{Flex, FlexTensor};
use std::time::Instant;

fn tensor(shape: &[usize]) -> FlexTensor {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n).map(|i| ((i * 7919 % 1000) as f32) / 1000.0 - 0.5).collect();
    FlexTensor::from_data(TensorData::new(values, shape.to_vec()))
}

fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    best
}

fn main() {
    println!("{:<34} {:>9} {:>9} {:>9}", "shape", "fwd ms", "dx ms", "dw ms");
    for (name, n, c, h, o, k, s, p) in [
        ("lenet conv1 b64 1>6 k5 28 p2", 64, 1, 28, 6, 5, 1, 2),
        ("lenet conv2 b64 6>16 k5 14", 64, 6, 14, 16, 5, 1, 0),
        ("resnet20 s1 b128 16>16 k3 28", 128, 16, 28, 16, 3, 1, 1),
        ("resnet20 s2 b128 32>32 k3 14", 128, 32, 14, 32, 3, 1, 1),
        ("resnet20 s3 b128 64>64 k3 7", 128, 64, 7, 64, 3, 1, 1),
        ("resnet20 down b128 16>32 k3 s2", 128, 16, 28, 32, 3, 2, 1),
        ("resnet18 l1 b8 64>64 k3 56", 8, 64, 56, 64, 3, 1, 1),
        ("resnet18 stem b8 3>64 k7 s2 224", 8, 3, 224, 64, 7, 2, 3),
    ] {
        let x = tensor(&[n, c, h, h]);
        let w = tensor(&[o, c, k, k]);
        let b = tensor(&[o]);
        let opt = ConvOptions::new([s, s], [p, p], [1, 1], 1);
        let y = Flex::conv2d(x.clone(), w.clone(), Some(b.clone()), opt.clone());
        let dy = tensor(&y.layout().shape().to_vec());
        let fwd = best_ms(|| {
            Flex::conv2d(x.clone(), w.clone(), Some(b.clone()), opt.clone());
        });
        let dx = best_ms(|| {
            Flex::conv2d_x_backward(x.clone(), w.clone(), dy.clone(), opt.clone());
        });
        let dw = best_ms(|| {
            Flex::conv2d_weight_backward(x.clone(), w.clone(), dy.clone(), opt.clone());
        });
        println!("{name:<34} {fwd:>9.2} {dx:>9.2} {dw:>9.2}");
    }
}
