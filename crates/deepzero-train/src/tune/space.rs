//! The search space of a tuning: which hyper-parameters take which values, expanded into a
//! grid or sampled at random (seeded).
//!
//! The text form is `KEY=V1,V2,…` per hyper-parameter, separated by `;` (or by the comma
//! before the next `KEY=`): `lr=1e-3,3e-3;batch-size=32,64` and `lr=1e-3,3e-3,batch-size=32,64`
//! are the same space. Random search also takes ranges: `dropout=0.1..0.5` (uniform) and
//! `lr=log:1e-4..1e-1` (log-uniform, as learning rates are usually searched; Bergstra &
//! Bengio 2012).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{FitConfig, TaskError};

/// The most trials one search expands to.
pub const MAX_TRIALS: usize = 1000;

/// What values a hyper-parameter takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A positive real number (a learning rate).
    Positive,
    /// A real number of at least 0 (weight decay).
    NonNegative,
    /// A probability in [0, 1) (dropout).
    Fraction,
    /// A whole number of at least 1 (batch size, epochs).
    Count,
    /// A name the function accepts (an optimiser, a schedule); its error is the message.
    Name(fn(&str) -> Result<(), String>),
}

/// A hyper-parameter a search space may name.
#[derive(Clone, Copy, Debug)]
pub struct Hyperparameter {
    /// Its name in the search space (`lr`, `batch-size`).
    pub key: &'static str,
    /// Its values.
    pub kind: Kind,
}

impl Hyperparameter {
    /// `key` of kind `kind`.
    pub const fn new(key: &'static str, kind: Kind) -> Self {
        Self { key, kind }
    }
}

fn optimizer_name(s: &str) -> Result<(), String> {
    s.parse::<deepzero_core::OptimizerKind>()
        .map(drop)
        .map_err(|e| e.to_string())
}

fn schedule_name(s: &str) -> Result<(), String> {
    s.parse::<deepzero_core::LrSchedule>()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The hyper-parameters of [`FitConfig`] that [`TrialParams::apply_fit`] sets: `lr`,
/// `batch-size`, `weight-decay`, `epochs`, `optimizer`, `schedule`.
pub const FIT_KEYS: [Hyperparameter; 6] = [
    Hyperparameter::new("lr", Kind::Positive),
    Hyperparameter::new("batch-size", Kind::Count),
    Hyperparameter::new("weight-decay", Kind::NonNegative),
    Hyperparameter::new("epochs", Kind::Count),
    Hyperparameter::new("optimizer", Kind::Name(optimizer_name)),
    Hyperparameter::new("schedule", Kind::Name(schedule_name)),
];

/// One value of a hyper-parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A whole number.
    Count(usize),
    /// A real number.
    Real(f64),
    /// A name.
    Name(String),
}

impl Value {
    /// The number this value holds.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Count(n) => Some(*n as f64),
            Self::Real(x) => Some(*x),
            Self::Name(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Count(n) => write!(f, "{n}"),
            Self::Real(x) => f.write_str(&format_real(*x)),
            Self::Name(s) => f.write_str(s),
        }
    }
}

/// `0.001`, `3e-5`, `0.25`: short and exact enough to read back.
pub fn format_real(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e5) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// The values one hyper-parameter may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Domain {
    /// One of these.
    Choice(Vec<Value>),
    /// A number between `low` and `high` (random search only), uniform or log-uniform.
    Range {
        /// The smallest value.
        low: f64,
        /// The largest value.
        high: f64,
        /// Sampled uniformly in log(value).
        log: bool,
        /// Whole numbers only (a count).
        #[serde(default)]
        whole: bool,
    },
}

/// The values of one trial, in the order of the search space.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrialParams(pub Vec<(String, Value)>);

impl TrialParams {
    /// The value of `key`, if the search sets it.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The number of `key`, if the search sets it.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    /// The whole number of `key`, if the search sets one.
    pub fn count(&self, key: &str) -> Option<usize> {
        match self.get(key) {
            Some(Value::Count(n)) => Some(*n),
            _ => None,
        }
    }

    /// The name of `key`, if the search sets one.
    pub fn name(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Value::Name(s)) => Some(s),
            _ => None,
        }
    }

    /// Sets the [`FIT_KEYS`] this trial names in `fit`; other keys are the caller's.
    pub fn apply_fit(&self, fit: &mut FitConfig) {
        if let Some(lr) = self.number("lr") {
            fit.learning_rate = lr;
        }
        if let Some(n) = self.count("batch-size") {
            fit.batch_size = n;
        }
        if let Some(wd) = self.number("weight-decay") {
            fit.weight_decay = wd;
        }
        if let Some(n) = self.count("epochs") {
            fit.epochs = n;
        }
        // The names were checked when the space was parsed.
        if let Some(Ok(kind)) = self.name("optimizer").map(str::parse) {
            fit.optimizer = kind;
        }
        if let Some(Ok(schedule)) = self.name("schedule").map(str::parse) {
            fit.schedule = schedule;
        }
    }
}

impl fmt::Display for TrialParams {
    /// `lr=0.001, batch-size=32`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// Hyper-parameters and their values, in the order given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchSpace {
    /// Each hyper-parameter with its domain.
    pub params: Vec<(String, Domain)>,
}

impl SearchSpace {
    /// Parses `lr=1e-3,3e-3;batch-size=32,64` (see the module's documentation), accepting the
    /// hyper-parameters of `keys` only.
    ///
    /// # Errors
    /// [`TaskError::Invalid`], one line naming the key or value at fault.
    pub fn parse(text: &str, keys: &[Hyperparameter]) -> Result<Self, TaskError> {
        let err = |message: String| TaskError::invalid(format!("search space: {message}"));
        // `KEY=...` segments: split on `;`, and on commas followed by a new `KEY=`.
        let mut segments: Vec<String> = Vec::new();
        for part in text.split(';').filter(|p| !p.trim().is_empty()) {
            for token in part.split(',') {
                let token = token.trim();
                match segments.last_mut() {
                    Some(last) if !token.contains('=') => {
                        last.push(',');
                        last.push_str(token);
                    }
                    _ => segments.push(token.to_string()),
                }
            }
        }
        segments.retain(|s| !s.is_empty());
        if segments.is_empty() {
            return Err(err(
                "nothing to search; give KEY=V1,V2 (e.g. lr=1e-3,3e-3;batch-size=32,64)".into(),
            ));
        }
        let known = || keys.iter().map(|k| k.key).collect::<Vec<_>>().join(", ");
        let mut params: Vec<(String, Domain)> = Vec::new();
        for segment in segments {
            let Some((key, values)) = segment.split_once('=') else {
                return Err(err(format!(
                    "`{segment}` has no values (KEY=V1,V2,…; keys: {})",
                    known()
                )));
            };
            let key = key.trim();
            let Some(hyper) = keys.iter().find(|k| k.key == key) else {
                return Err(err(format!("unknown key `{key}` (known: {})", known())));
            };
            if params.iter().any(|(k, _)| k == key) {
                return Err(err(format!("`{key}` is given twice")));
            }
            let domain = parse_domain(hyper, values.trim()).map_err(err)?;
            params.push((key.to_string(), domain));
        }
        Ok(Self { params })
    }

    /// A space around the settings of `fit`: its learning rate ÷10 to ×10 (log-uniform) and
    /// its batch size halved, kept or doubled — `lr=log:1e-4..1e-2;batch-size=32,64,128` for
    /// lr 1e-3 and batch 64.
    pub fn around(fit: &FitConfig) -> Self {
        let (lr, b) = (fit.learning_rate, fit.batch_size.max(1));
        let mut batches: Vec<Value> = Vec::new();
        for n in [(b / 2).max(1), b, b * 2] {
            if !batches.contains(&Value::Count(n)) {
                batches.push(Value::Count(n));
            }
        }
        Self {
            params: vec![
                (
                    "lr".into(),
                    Domain::Range {
                        low: lr / 10.0,
                        high: lr * 10.0,
                        log: true,
                        whole: false,
                    },
                ),
                ("batch-size".into(), Domain::Choice(batches)),
            ],
        }
    }

    /// The number of trials of the grid (`None` when a hyper-parameter is a range).
    pub fn grid_size(&self) -> Option<usize> {
        self.params.iter().try_fold(1usize, |n, (_, d)| match d {
            Domain::Choice(values) => Some(n.saturating_mul(values.len())),
            Domain::Range { .. } => None,
        })
    }

    /// Every combination of the values, the last hyper-parameter varying fastest.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for a range (ranges are sampled, not enumerated) or a grid of
    /// more than [`MAX_TRIALS`] trials.
    pub fn grid(&self) -> Result<Vec<TrialParams>, TaskError> {
        if let Some((key, _)) = self
            .params
            .iter()
            .find(|(_, d)| matches!(d, Domain::Range { .. }))
        {
            return Err(TaskError::invalid(format!(
                "search space: `{key}` is a range, which random search samples; a grid needs a \
                 list of values ({key}=V1,V2,…)"
            )));
        }
        let size = self.grid_size().unwrap_or(usize::MAX);
        if size > MAX_TRIALS {
            return Err(TaskError::invalid(format!(
                "search space: the grid has {size} trials, more than {MAX_TRIALS}; search fewer \
                 values, or sample some at random"
            )));
        }
        let mut trials = vec![TrialParams::default()];
        for (key, domain) in &self.params {
            let Domain::Choice(values) = domain else {
                unreachable!("ranges were refused above")
            };
            trials = trials
                .into_iter()
                .flat_map(|t| {
                    values.iter().map(move |v| {
                        let mut t = t.clone();
                        t.0.push((key.clone(), v.clone()));
                        t
                    })
                })
                .collect();
        }
        Ok(trials)
    }

    /// `n` distinct configurations drawn at random with `seed` (the same seed draws the same
    /// ones): a value of a list uniformly, a range uniformly or log-uniformly (reals to three
    /// significant digits). A space with fewer than `n` configurations gives all of them, in
    /// a random order.
    ///
    /// # Errors
    /// [`TaskError::Invalid`] for `n` of 0 or more than [`MAX_TRIALS`].
    pub fn sample(&self, n: usize, seed: u64) -> Result<Vec<TrialParams>, TaskError> {
        if n == 0 || n > MAX_TRIALS {
            return Err(TaskError::invalid(format!(
                "random search needs between 1 and {MAX_TRIALS} trials, not {n}"
            )));
        }
        let mut rng = SplitMix64(seed ^ 0x5EA7_C4ED);
        let mut seen = HashSet::new();
        let mut trials = Vec::new();
        // Draw until n distinct configurations, or until the space seems exhausted.
        for _ in 0..n.saturating_mul(50).max(200) {
            if trials.len() == n {
                break;
            }
            let trial = TrialParams(
                self.params
                    .iter()
                    .map(|(key, domain)| (key.clone(), draw(domain, &mut rng)))
                    .collect(),
            );
            if seen.insert(trial.to_string()) {
                trials.push(trial);
            }
        }
        Ok(trials)
    }
}

impl fmt::Display for SearchSpace {
    /// The text form, which [`SearchSpace::parse`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .params
            .iter()
            .map(|(key, domain)| match domain {
                Domain::Choice(values) => {
                    let values: Vec<String> = values.iter().map(Value::to_string).collect();
                    format!("{key}={}", values.join(","))
                }
                Domain::Range { low, high, log, .. } => format!(
                    "{key}={}{}..{}",
                    if *log { "log:" } else { "" },
                    format_real(*low),
                    format_real(*high)
                ),
            })
            .collect();
        f.write_str(&parts.join(";"))
    }
}

/// One value of `hyper`, or why not.
fn parse_value(hyper: &Hyperparameter, text: &str) -> Result<Value, String> {
    let key = hyper.key;
    let real = |check: fn(f64) -> bool, what: &str| -> Result<Value, String> {
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() && check(x) => Ok(Value::Real(x)),
            Ok(_) => Err(format!("{key}={text}: must be {what}")),
            Err(_) => Err(format!("{key}={text}: not a number")),
        }
    };
    match hyper.kind {
        Kind::Positive => real(|x| x > 0.0, "a positive number"),
        Kind::NonNegative => real(|x| x >= 0.0, "a number of at least 0"),
        Kind::Fraction => real(|x| (0.0..1.0).contains(&x), "in [0, 1)"),
        Kind::Count => match text.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Value::Count(n)),
            _ => Err(format!("{key}={text}: not a whole number of at least 1")),
        },
        Kind::Name(check) => check(text)
            .map(|()| Value::Name(text.to_string()))
            .map_err(|e| format!("{key}={text}: {}", e.replace('\n', " "))),
    }
}

/// The domain `text` gives `hyper`: `V1,V2,…`, `LOW..HIGH` or `log:LOW..HIGH`.
fn parse_domain(hyper: &Hyperparameter, text: &str) -> Result<Domain, String> {
    let key = hyper.key;
    let (log, range) = match text.strip_prefix("log:") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if let Some((low, high)) = range.split_once("..") {
        if matches!(hyper.kind, Kind::Name(_)) {
            return Err(format!("{key}={text}: a name cannot be a range"));
        }
        let low = parse_value(hyper, low.trim())?.as_f64().unwrap_or(f64::NAN);
        let high = parse_value(hyper, high.trim())?
            .as_f64()
            .unwrap_or(f64::NAN);
        if low.partial_cmp(&high) != Some(std::cmp::Ordering::Less) {
            return Err(format!("{key}={text}: the range must go from low to high"));
        }
        if log && low <= 0.0 {
            return Err(format!("{key}={text}: a log range must be above 0"));
        }
        let whole = matches!(hyper.kind, Kind::Count);
        return Ok(Domain::Range {
            low,
            high,
            log,
            whole,
        });
    }
    if log {
        return Err(format!("{key}={text}: `log:` needs a range LOW..HIGH"));
    }
    let mut values: Vec<Value> = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("{key}={text}: empty value"));
        }
        let value = parse_value(hyper, item)?;
        if values.contains(&value) {
            return Err(format!("{key}={text}: `{item}` is given twice"));
        }
        values.push(value);
    }
    Ok(Domain::Choice(values))
}

/// A draw from `domain`.
fn draw(domain: &Domain, rng: &mut SplitMix64) -> Value {
    match domain {
        Domain::Choice(values) => values[rng.below(values.len())].clone(),
        Domain::Range {
            low,
            high,
            log,
            whole,
        } => {
            let u = rng.unit();
            let x = if *log {
                (low.ln() + u * (high.ln() - low.ln())).exp()
            } else {
                low + u * (high - low)
            };
            if *whole {
                Value::Count((x.round() as usize).clamp(*low as usize, *high as usize))
            } else {
                // Three significant digits: readable, and distinct draws stay distinct.
                let rounded = format!("{x:.2e}").parse().unwrap_or(x);
                Value::Real(rounded)
            }
        }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, seedable generator, enough for drawing
/// configurations.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in 0..n.
    fn below(&mut self, n: usize) -> usize {
        ((self.unit() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(text: &str) -> Result<SearchSpace, TaskError> {
        SearchSpace::parse(text, &FIT_KEYS)
    }

    #[test]
    fn both_separators_give_the_same_space() {
        let a = space("lr=1e-3,3e-3;batch-size=32,64").unwrap();
        let b = space("lr=1e-3,3e-3,batch-size=32,64").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "lr=0.001,0.003;batch-size=32,64");
        assert_eq!(space(&a.to_string()).unwrap(), a);
        let c = space(" lr = log:1e-4..1e-1 ; optimizer=adam,sgd;").unwrap();
        assert_eq!(c.to_string(), "lr=log:1e-4..0.1;optimizer=adam,sgd");
        assert_eq!(c.grid_size(), None);
    }

    #[test]
    fn the_grid_is_every_combination_last_key_fastest() {
        let s = space("lr=1e-3,3e-3,1e-2;batch-size=32,64;optimizer=adam,sgd").unwrap();
        assert_eq!(s.grid_size(), Some(12));
        let grid = s.grid().unwrap();
        assert_eq!(grid.len(), 12);
        assert_eq!(
            grid[0].to_string(),
            "lr=0.001, batch-size=32, optimizer=adam"
        );
        assert_eq!(
            grid[1].to_string(),
            "lr=0.001, batch-size=32, optimizer=sgd"
        );
        assert_eq!(
            grid[11].to_string(),
            "lr=0.01, batch-size=64, optimizer=sgd"
        );
        let distinct: HashSet<String> = grid.iter().map(|t| t.to_string()).collect();
        assert_eq!(distinct.len(), 12);
        let err = space("lr=log:1e-4..1e-2").unwrap().grid().unwrap_err();
        assert!(err.to_string().contains("`lr` is a range"), "{err}");
    }

    #[test]
    fn random_search_is_seeded_distinct_and_inside_the_space() {
        let s = space("lr=log:1e-4..1e-1;batch-size=16..128;optimizer=adam,sgd,adamw").unwrap();
        let a = s.sample(20, 7).unwrap();
        assert_eq!(a, s.sample(20, 7).unwrap(), "same seed, same trials");
        assert_ne!(a, s.sample(20, 8).unwrap(), "another seed, other trials");
        let distinct: HashSet<String> = a.iter().map(|t| t.to_string()).collect();
        assert_eq!(distinct.len(), 20);
        for t in &a {
            let lr = t.number("lr").unwrap();
            assert!((1e-4..=1e-1).contains(&lr), "{t}");
            let batch = t.count("batch-size").unwrap();
            assert!((16..=128).contains(&batch), "{t}");
            assert!(["adam", "sgd", "adamw"].contains(&t.name("optimizer").unwrap()));
        }
        // Log-uniform: about as many draws below 1e-2.5 as above (a uniform draw would put
        // 97 % above).
        let many = space("lr=log:1e-4..1e-1").unwrap().sample(400, 1).unwrap();
        let low = many
            .iter()
            .filter(|t| t.number("lr").unwrap() < 10f64.powf(-2.5))
            .count();
        assert!(
            (150..250).contains(&low),
            "{low} of 400 below the log midpoint"
        );
        // A small space gives all of its configurations.
        let small = space("lr=1e-3,1e-2;batch-size=32,64").unwrap();
        assert_eq!(small.sample(10, 3).unwrap().len(), 4);
        assert!(small.sample(0, 3).is_err());
    }

    #[test]
    fn the_default_space_surrounds_the_recipe() {
        let fit = FitConfig {
            learning_rate: 1e-3,
            batch_size: 64,
            ..FitConfig::default()
        };
        let around = SearchSpace::around(&fit);
        assert_eq!(around.to_string(), "lr=log:1e-4..0.01;batch-size=32,64,128");
        assert_eq!(space(&around.to_string()).unwrap(), around);
    }

    #[test]
    fn trial_values_set_the_fit_config() {
        let s =
            space("lr=0.05;batch-size=16;weight-decay=1e-4;epochs=3;optimizer=sgd;schedule=cosine")
                .unwrap();
        let trial = &s.grid().unwrap()[0];
        let mut fit = FitConfig::default();
        trial.apply_fit(&mut fit);
        assert_eq!(fit.learning_rate, 0.05);
        assert_eq!(fit.batch_size, 16);
        assert_eq!(fit.weight_decay, 1e-4);
        assert_eq!(fit.epochs, 3);
        assert_eq!(fit.optimizer, deepzero_core::OptimizerKind::Sgd);
        assert_eq!(fit.schedule.name(), "cosine");
        // Through JSON and back (trial.json).
        let json = serde_json::to_string(trial).unwrap();
        assert_eq!(serde_json::from_str::<TrialParams>(&json).unwrap(), *trial);
    }

    #[test]
    fn bad_spaces_are_one_line_errors_naming_the_fault() {
        for (text, needle) in [
            ("", "nothing to search"),
            ("lrate=0.1", "unknown key `lrate` (known: lr, batch-size"),
            ("lr", "`lr` has no values"),
            ("lr=abc", "lr=abc: not a number"),
            ("lr=-1e-3", "lr=-1e-3: must be a positive number"),
            ("lr=0", "must be a positive number"),
            ("batch-size=3.5", "batch-size=3.5: not a whole number"),
            ("batch-size=0", "not a whole number of at least 1"),
            ("lr=1e-3,,1e-2", "empty value"),
            ("lr=1e-3,1e-3", "`1e-3` is given twice"),
            ("lr=1e-3;lr=1e-2", "`lr` is given twice"),
            ("lr=0.1..0.01", "the range must go from low to high"),
            ("weight-decay=log:0..0.1", "a log range must be above 0"),
            ("lr=log:1e-3", "`log:` needs a range"),
            (
                "optimizer=adamm",
                "optimizer=adamm: unknown optimizer `adamm`",
            ),
            ("optimizer=adam..sgd", "a name cannot be a range"),
            ("schedule=cosine:2", "invalid learning-rate schedule"),
        ] {
            let err = space(text).unwrap_err().to_string();
            assert!(err.starts_with("search space: "), "{text}: {err}");
            assert!(err.contains(needle), "{text}: `{needle}` not in: {err}");
            assert!(!err.contains('\n'), "{text}: {err}");
        }
        let big = space("lr=1,2,3,4,5,6,7,8,9,10;batch-size=1,2,3,4,5,6,7,8,9,10;epochs=1,2,3,4,5,6,7,8,9,10,11")
            .unwrap();
        assert!(big.grid().unwrap_err().to_string().contains("1100 trials"));
    }
}
