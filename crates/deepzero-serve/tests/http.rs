//! The server end to end on loopback: batched answers against the predictor's one-by-one
//! answers, every kind of bad request, and shutdown under load.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use base64::Engine as _;
use burn::prelude::Device;
use deepzero_serve::batch::BatchConfig;
use deepzero_serve::{RunningServer, ServeConfig, Server, fixtures};
use deepzero_vision::tasks::classify::{InvertMode, PredictOptions, Predictor};
use image::{GrayImage, Luma, Rgb, RgbImage};
use serde_json::Value;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// Status and JSON body of a POST.
fn post(addr: SocketAddr, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut response = agent()
        .post(format!("http://{addr}{path}"))
        .header("Content-Type", content_type)
        .send(body)
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, json)
}

fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    let mut response = agent().get(format!("http://{addr}{path}")).call().unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// A PNG of a 28×28 gray pattern that differs with `seed`.
fn digit_png(seed: u32) -> Vec<u8> {
    let image = GrayImage::from_fn(28, 28, |x, y| {
        Luma([((x * (seed + 3) + y * (2 * seed + 1) + seed * 17) % 256) as u8])
    });
    let mut bytes = Vec::new();
    image
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

fn lenet_server(dir: &Path, config: ServeConfig) -> RunningServer {
    let run = dir.join("lenet");
    fixtures::write_lenet_run(&run).unwrap();
    Server::load(&[run], config, &Device::flex())
        .unwrap()
        .spawn("127.0.0.1:0".parse().unwrap())
        .unwrap()
}

/// Probability of each class, from a `top` list of all classes.
fn by_class(top: &Value) -> Vec<f64> {
    let mut p = vec![f64::NAN; 10];
    for entry in top.as_array().unwrap() {
        p[entry["class"].as_u64().unwrap() as usize] = entry["probability"].as_f64().unwrap();
    }
    p
}

#[test]
fn batched_answers_equal_one_by_one_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        batch: BatchConfig {
            max_batch: 8,
            max_wait: Duration::from_millis(50),
            queue_capacity: 64,
        },
        ..ServeConfig::default()
    };
    let server = lenet_server(dir.path(), config);
    let addr = server.addr();

    // The predictor's own answers, one image at a time, from files.
    let predictor = Predictor::load(&dir.path().join("lenet"), None, &Device::flex()).unwrap();
    let options = PredictOptions {
        top_k: 10,
        invert: InvertMode::Never,
    };
    let n = 16;
    let expected: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let path: PathBuf = dir.path().join(format!("{i}.png"));
            std::fs::write(&path, digit_png(i)).unwrap();
            let p = predictor.predict(&[path], &options).unwrap();
            let mut probs = vec![0.0; 10];
            for (class, _, prob) in &p[0].top {
                probs[*class] = f64::from(*prob);
            }
            probs
        })
        .collect();

    // The same images from 16 concurrent clients.
    let barrier = Arc::new(Barrier::new(n as usize));
    let clients: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                post(
                    addr,
                    "/v1/models/lenet/predict?top_k=10&invert=never",
                    "image/png",
                    &digit_png(i),
                )
            })
        })
        .collect();
    for (i, client) in clients.into_iter().enumerate() {
        let (status, body) = client.join().unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["model"], "lenet");
        let got = by_class(&body["predictions"][0]["top"]);
        for (class, (g, e)) in got.iter().zip(&expected[i]).enumerate() {
            assert!((g - e).abs() < 1e-5, "image {i} class {class}: {g} vs {e}");
        }
    }
    let (status, health) = get(addr, "/health");
    assert_eq!(status, 200);
    let stats = &health["models"][0];
    assert_eq!(stats["inputs"], n as u64);
    assert!(
        stats["batches"].as_u64().unwrap() < n as u64,
        "16 concurrent requests never shared a batch: {health}"
    );
    assert!(stats["largest_batch"].as_u64().unwrap() <= 8, "{health}");
    server.shutdown().unwrap();
}

#[test]
fn raw_multipart_and_json_bodies_give_the_same_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = lenet_server(dir.path(), ServeConfig::default());
    let addr = server.addr();
    let png = digit_png(5);
    let path = "/v1/models/lenet/predict?top_k=3";

    let (status, raw) = post(addr, path, "image/png", &png);
    assert_eq!(status, 200, "{raw}");
    assert_eq!(raw["predictions"][0]["top"].as_array().unwrap().len(), 3);

    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let json_body = serde_json::json!({ "images": [b64, b64] }).to_string();
    let (status, json) = post(addr, path, "application/json", json_body.as_bytes());
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["predictions"][0], raw["predictions"][0]);
    assert_eq!(json["predictions"][1], raw["predictions"][0]);

    let boundary = "deepzeroBoundary";
    let mut multipart = Vec::new();
    write!(
        multipart,
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .unwrap();
    multipart.extend_from_slice(&png);
    write!(multipart, "\r\n--{boundary}--\r\n").unwrap();
    let (status, form) = post(
        addr,
        path,
        &format!("multipart/form-data; boundary={boundary}"),
        &multipart,
    );
    assert_eq!(status, 200, "{form}");
    assert_eq!(form["predictions"][0], raw["predictions"][0]);

    // An RGB image of another size is converted and resized like a file would be.
    let rgb = RgbImage::from_fn(40, 30, |x, y| Rgb([x as u8 * 6, y as u8 * 8, 100]));
    let mut rgb_png = Vec::new();
    rgb.write_to(
        &mut std::io::Cursor::new(&mut rgb_png),
        image::ImageFormat::Png,
    )
    .unwrap();
    let (status, body) = post(addr, path, "image/png", &rgb_png);
    assert_eq!(status, 200, "{body}");

    let (status, models) = get(addr, "/v1/models");
    assert_eq!(status, 200);
    assert_eq!(models["models"][0]["name"], "lenet");
    assert_eq!(models["models"][0]["kind"], "image-classifier");
    assert_eq!(
        models["models"][0]["input_shape"],
        serde_json::json!([1, 28, 28])
    );
    server.shutdown().unwrap();
}

/// Sends raw bytes and returns the status code of the answer (0: no answer).
fn raw_request(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[test]
fn bad_requests_get_a_4xx_with_a_json_message_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        max_body_bytes: 64 * 1024,
        max_image_side: 1000,
        max_inputs: 4,
        request_timeout: Duration::from_secs(1),
        ..ServeConfig::default()
    };
    let server = lenet_server(dir.path(), config);
    let addr = server.addr();
    let predict = "/v1/models/lenet/predict";
    let png = digit_png(1);

    let wide = GrayImage::new(1500, 2);
    let mut wide_png = Vec::new();
    wide.write_to(
        &mut std::io::Cursor::new(&mut wide_png),
        image::ImageFormat::Png,
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let five = serde_json::json!({ "images": [b64, b64, b64, b64, b64] }).to_string();
    // (what, path, Content-Type, body, status, part of the message)
    type Case<'a> = (&'a str, &'a str, &'a str, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "unknown model",
            "/v1/models/nope/predict",
            "image/png",
            png.clone(),
            404,
            "no model named `nope`",
        ),
        (
            "unknown route",
            "/v2/other",
            "image/png",
            png.clone(),
            404,
            "no route",
        ),
        (
            "no content type",
            predict,
            "",
            png.clone(),
            415,
            "no Content-Type",
        ),
        (
            "odd content type",
            predict,
            "application/xml",
            png.clone(),
            415,
            "application/xml",
        ),
        (
            "not an image",
            predict,
            "image/png",
            b"hello, not a picture".to_vec(),
            415,
            "not a PNG or JPEG",
        ),
        (
            "truncated PNG",
            predict,
            "image/png",
            png[..png.len() / 2].to_vec(),
            400,
            "cannot decode",
        ),
        (
            "huge image",
            predict,
            "image/png",
            wide_png,
            413,
            "1000×1000",
        ),
        (
            "oversized body",
            predict,
            "application/octet-stream",
            vec![0u8; 100 * 1024],
            413,
            "limit of 65536 bytes",
        ),
        (
            "bad JSON",
            predict,
            "application/json",
            b"{\"images\": [".to_vec(),
            400,
            "invalid JSON",
        ),
        (
            "unknown JSON field",
            predict,
            "application/json",
            b"{\"picture\": \"x\"}".to_vec(),
            400,
            "unknown field",
        ),
        (
            "bad base64",
            predict,
            "application/json",
            b"{\"image\": \"***\"}".to_vec(),
            400,
            "not valid base64",
        ),
        (
            "too many inputs",
            predict,
            "application/json",
            five.into_bytes(),
            413,
            "at most 4",
        ),
        (
            "text to an image model",
            predict,
            "text/plain",
            b"a text".to_vec(),
            400,
            "takes images",
        ),
        (
            "empty JSON",
            predict,
            "application/json",
            b"{}".to_vec(),
            400,
            "needs `image`",
        ),
        (
            "empty multipart",
            predict,
            "multipart/form-data; boundary=b",
            b"--b--\r\n".to_vec(),
            400,
            "no input",
        ),
        (
            "multipart without boundary",
            predict,
            "multipart/form-data",
            png.clone(),
            400,
            "boundary",
        ),
        (
            "top_k zero",
            "/v1/models/lenet/predict?top_k=0",
            "image/png",
            png.clone(),
            400,
            "top_k",
        ),
        (
            "unknown parameter",
            "/v1/models/lenet/predict?k=3",
            "image/png",
            png.clone(),
            400,
            "unknown query parameter",
        ),
    ];
    for (what, path, content_type, body, status, message) in cases {
        let mut request = agent().post(format!("http://{addr}{path}"));
        if !content_type.is_empty() {
            request = request.header("Content-Type", content_type);
        }
        let mut response = request.send(&body[..]).unwrap();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), status, "{what}: {text}");
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: {text}"));
        let error = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: {text}"));
        assert!(error.contains(message), "{what}: {error}");
        assert!(!error.contains('\n'), "{what}: one line");
    }

    // GET on the predict route.
    let (status, body) = get(addr, predict);
    assert_eq!(status, 405, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not allowed"));

    // Malformed HTTP is refused by the parser with a 400, and the server lives on.
    let (status, _) = raw_request(addr, b"THIS IS NOT HTTP\r\n\r\n");
    assert_eq!(status, 400);
    let (status, _) = raw_request(
        addr,
        b"POST /v1/models/lenet/predict HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
    );
    assert_eq!(status, 400);
    // A body shorter than its Content-Length: the request times out with a 504.
    let (status, text) = raw_request(
        addr,
        b"POST /v1/models/lenet/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 999\r\nConnection: close\r\n\r\nshort",
    );
    assert_eq!(status, 504, "{text}");
    assert!(text.contains("not answered within 1s"), "{text}");

    let (status, body) = post(addr, predict, "image/png", &png);
    assert_eq!(status, 200, "{body}");
    server.shutdown().unwrap();
}

#[test]
fn shutdown_under_load_answers_or_refuses_every_request_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let server = lenet_server(dir.path(), ServeConfig::default());
    let addr = server.addr();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|i| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let png = digit_png(i);
                let agent = agent();
                let (mut ok, mut refused) = (0, 0);
                // Bounded: at most 2000 requests or until the server is gone.
                for _ in 0..2000 {
                    let sent = agent
                        .post(format!("http://{addr}/v1/models/lenet/predict"))
                        .header("Content-Type", "image/png")
                        .send(&png[..]);
                    match sent {
                        Ok(mut response) => {
                            let status = response.status().as_u16();
                            let text = response.body_mut().read_to_string().unwrap_or_default();
                            let json: Value = serde_json::from_str(&text)
                                .unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
                            match status {
                                200 => {
                                    assert_eq!(
                                        json["predictions"][0]["top"].as_array().unwrap().len(),
                                        5
                                    );
                                    ok += 1;
                                }
                                503 => {
                                    assert!(
                                        json["error"].as_str().unwrap().contains("shutting down")
                                    );
                                    refused += 1;
                                }
                                other => panic!("status {other}: {text}"),
                            }
                        }
                        // The listener closed: the server is gone.
                        Err(_) => break,
                    }
                    if stop.load(std::sync::atomic::Ordering::SeqCst) && refused > 0 {
                        break;
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    server.shutdown().unwrap();
    let answered: u32 = clients.into_iter().map(|c| c.join().unwrap().0).sum();
    assert!(answered > 0, "no request was answered before the shutdown");
    assert!(
        TcpStream::connect(addr).is_err(),
        "still listening after shutdown"
    );
}
