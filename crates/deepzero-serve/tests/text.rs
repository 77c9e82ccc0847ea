//! A text classifier served end to end: a bag-of-words run trained for two epochs on a generated
//! two-topic corpus, answers over HTTP (JSON, plain text, multipart) equal to the predictor's.

use std::path::Path;
use std::time::Duration;

use burn::prelude::Device;
use deepzero_data::text::TextCorpus;
use deepzero_sequence::tasks::TextEncoderKind;
use deepzero_sequence::tasks::classify::{self, ClassifySpec, Predictor};
use deepzero_serve::{ServeConfig, Server};
use deepzero_train::{FitConfig, RunSettings};
use serde_json::Value;

/// `root/bbc/<class>/NNN.txt`: two topics with their own words.
fn write_corpus(root: &Path) {
    let sport = ["goal", "match", "team", "coach", "league", "score"];
    let tech = ["chip", "software", "phone", "network", "robot", "code"];
    for (class, words) in [("sport", sport), ("tech", tech)] {
        let dir = root.join("bbc").join(class);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..30 {
            let text: Vec<&str> = (0..10)
                .map(|j| words[(i * 5 + j * 3) % words.len()])
                .collect();
            std::fs::write(
                dir.join(format!("{i:03}.txt")),
                format!("{} n{i}", text.join(" ")),
            )
            .unwrap();
        }
    }
}

fn post(addr: std::net::SocketAddr, content_type: &str, body: &[u8]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .post(format!("http://{addr}/v1/models/bbc/predict"))
        .header("Content-Type", content_type)
        .send(body)
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

#[test]
fn a_served_text_classifier_answers_like_its_predictor() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    write_corpus(&data);
    let run = tmp.path().join("bbc");
    let spec = ClassifySpec {
        max_len: 16,
        dropout: 0.0,
        ..ClassifySpec::new(TextCorpus::BbcNews, TextEncoderKind::Bag)
    };
    let mut settings = RunSettings::new("bbc-fasttext", &run)
        .with_data_dir(&data)
        .with_fit(FitConfig {
            epochs: 2,
            batch_size: 8,
            learning_rate: 1e-2,
            ..FitConfig::default()
        });
    settings.quiet = true;
    classify::train(&spec, &settings).unwrap();

    let texts = [
        "goal team coach league",
        "robot chip software code",
        "phone match",
    ];
    let predictor = Predictor::load(&run, None, &Device::flex()).unwrap();
    let expected: Vec<_> = texts
        .iter()
        .map(|t| predictor.predict(&[t.to_string()]).unwrap().remove(0))
        .collect();

    let server = Server::load(
        std::slice::from_ref(&run),
        ServeConfig::default(),
        &Device::flex(),
    )
    .unwrap()
    .spawn("127.0.0.1:0".parse().unwrap())
    .unwrap();
    let addr = server.addr();
    let body = serde_json::json!({ "texts": texts }).to_string();
    let (status, json) = post(addr, "application/json", body.as_bytes());
    assert_eq!(status, 200, "{json}");
    for (got, want) in json["predictions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(&expected)
    {
        assert_eq!(got["label"], want.label.as_str());
        let p = got["probability"].as_f64().unwrap();
        assert!(
            (p - f64::from(want.probability)).abs() < 1e-5,
            "{got} vs {want:?}"
        );
    }
    let (status, plain) = post(addr, "text/plain", texts[0].as_bytes());
    assert_eq!(status, 200, "{plain}");
    assert_eq!(plain["predictions"][0], json["predictions"][0]);
    let (status, multipart) = post(
        addr,
        "multipart/form-data; boundary=B",
        format!(
            "--B\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n{}\r\n--B--\r\n",
            texts[1]
        )
        .as_bytes(),
    );
    assert_eq!(status, 200, "{multipart}");
    assert_eq!(multipart["predictions"][0], json["predictions"][1]);
    // An image to a text model, and text that is not UTF-8.
    let (status, err) = post(addr, "image/png", b"\x89PNG");
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap().contains("takes texts"),
        "{err}"
    );
    let (status, err) = post(addr, "text/plain", b"caf\xe9");
    assert_eq!(status, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("UTF-8"), "{err}");
    server.shutdown().unwrap();
}
