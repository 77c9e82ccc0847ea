//! `deepzero recommend` for a user the run never saw, described by side features and a few
//! rated items (an `ml100k-coldstart` run on generated MovieLens-layout data), and its
//! one-line refusals.

use std::path::Path;
use std::process::Output;

use deepzero_recsys::data::{SyntheticConfig, generate, write_ml100k};

mod common;
use common::{assert_ok, path, run, stderr_line, stdout};

fn train(recipe: &str, data: &Path, run_dir: &Path) {
    let out = run(&[
        "train",
        recipe,
        "--data-dir",
        path(data),
        "--out",
        path(run_dir),
        "--epochs",
        "2",
    ]);
    assert_ok(&out);
}

/// Runs `deepzero recommend RECIPE --run RUN extra…`.
fn recommend(recipe: &str, run_dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["recommend", recipe, "--run", path(run_dir)];
    args.extend_from_slice(extra);
    run(&args)
}

/// [`recommend`], expecting failure; returns its one-line error.
fn refused(recipe: &str, run_dir: &Path, extra: &[&str]) -> String {
    stderr_line(&recommend(recipe, run_dir, extra))
}

#[test]
fn a_new_user_is_served_from_features_and_bad_ones_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let data = generate(&SyntheticConfig {
        n_users: 60,
        // More than 99 items: the protocols sample 99 negatives per user.
        n_items: 300,
        ratings_per_user: 15,
        ..Default::default()
    })
    .unwrap();
    write_ml100k(&data_dir, &data).unwrap();
    let run_dir = tmp.path().join("coldstart");
    train("ml100k-coldstart", &data_dir, &run_dir);

    // A profile the data has (the first user's), and two items it knows.
    let user = data.users[0].as_ref().unwrap();
    let age = user.age.to_string();
    let rated: Vec<u64> = (0..2).map(|i| data.item_ids.raw(i).unwrap()).collect();
    let rated_arg = format!("{},{}", rated[0], rated[1]);
    let out = recommend(
        "ml100k-coldstart",
        &run_dir,
        &[
            "--gender",
            &user.gender,
            "--age",
            &age,
            "--occupation",
            &user.occupation,
            "--rated",
            &rated_arg,
            "-k",
            "5",
            "--json",
        ],
    );
    assert_ok(&out);
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(items.len(), 5);
    let ids: Vec<u64> = items.iter().map(|r| r["item"].as_u64().unwrap()).collect();
    assert!(ids.iter().all(|i| !rated.contains(i)), "{ids:?}");
    let scores: Vec<f64> = items.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Features alone, as text.
    let out = recommend(
        "ml100k-coldstart",
        &run_dir,
        &["--gender", &user.gender, "-k", "3"],
    );
    assert!(out.status.success());
    assert_eq!(stdout(&out).lines().count(), 3);

    for (extra, needle) in [
        (
            vec!["--occupation", "astronaut"],
            "occupation \"astronaut\" is not one",
        ),
        (vec!["--age", "twenty"], "not a whole number of years"),
        (vec!["--rated", "1,x"], "item id \"x\""),
        (vec!["--rated", "999999"], "unknown item id 999999"),
        (vec!["--user", "1", "--gender", "F"], "go without it"),
        (vec![], "recommend needs --user ID or a new user's"),
    ] {
        let err = refused("ml100k-coldstart", &run_dir, &extra);
        assert!(err.contains(needle), "{extra:?}: {err}");
    }
    // A run without side features has no new-user path.
    let pop = tmp.path().join("popularity");
    train("ml100k-popularity", &data_dir, &pop);
    let err = refused("ml100k-popularity", &pop, &["--gender", "F"]);
    assert!(err.contains("has no side-feature model"), "{err}");
}

#[test]
fn content_neumf_trains_recommends_new_films_and_refuses_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("data");
    let data = generate(&SyntheticConfig {
        n_users: 60,
        n_items: 600,
        ratings_per_user: 20,
        ..Default::default()
    })
    .unwrap();
    write_ml100k(&data_dir, &data).unwrap();
    let run_dir = tmp.path().join("content");
    train("ml100k-content-neumf", &data_dir, &run_dir);
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("metrics.json")).unwrap()).unwrap();
    let rows = metrics["rows"].as_array().unwrap();
    assert_eq!(rows[0]["model"], "content-neumf (tags)");
    assert_eq!(
        rows[1]["among_new"]["hr"], 0.0,
        "popularity ties every new item"
    );

    let user = data.user_ids.raw(0).unwrap().to_string();
    let predict = |extra: &[&str]| {
        let mut args = vec!["predict", "ml100k-content-neumf", "--run", path(&run_dir)];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = predict(&[&user, "--top", "3", "--json"]);
    assert_ok(&out);
    let picks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(picks[0]["all"].as_array().unwrap().len(), 3);
    let new = picks[0]["new"].as_array().unwrap();
    assert!(new.iter().all(|r| r["new"] == true), "{new:?}");
    assert!(stderr_line(&predict(&["x"])).contains("`x` is not a user id"));
    assert!(stderr_line(&predict(&["999999"])).contains("user 999999 is not in the run's data"));
    // The recommender commands of the ml100k-* runs name what this run is.
    let err = refused("ml100k-content-neumf", &run_dir, &["--user", &user]);
    assert!(err.contains("content-rec"), "{err}");
}
