//! Entity-level precision, recall and F1, computed exactly as `seqeval` (Nakayama 2018) does in
//! its default mode (`seqeval.metrics.f1_score(y_true, y_pred)`, `classification_report`).
//!
//! Chunking follows `seqeval.metrics.sequence_labeling.get_entities`: the sentences are joined
//! with an `O` between them, and a chunk starts at `B-`/`S-`, at an `I-`/`E-` that follows `O`
//! or `E-`/`S-`, or at any tag whose type differs from the previous tag's; it ends before
//! `B-`/`S-`/`O`, after `E-`/`S-`, and at a change of type. So `I-PER I-PER` (no `B-`) is one
//! PER entity and `B-PER I-LOC` is two entities (lenient chunking). An entity is a
//! `(type, first, last)` triple; precision = exact matches / predicted entities, recall =
//! exact matches / gold entities, micro-averaged over all entities, and 0 where a denominator
//! is 0.

use std::collections::{BTreeMap, BTreeSet};

/// One entity: `(type, first index, last index)` in the joined sequence.
pub type Entity = (String, usize, usize);

fn split_tag(tag: &str) -> (char, &str) {
    let prefix = tag.chars().next().unwrap_or('O');
    // seqeval: `type_ = chunk[1:].split('-', maxsplit=1)[-1] or '_'`. An empty tag (where
    // seqeval raises an IndexError) reads as `O`.
    let rest = tag.get(prefix.len_utf8()..).unwrap_or("");
    let kind = rest.split_once('-').map(|(_, k)| k).unwrap_or(rest);
    (prefix, if kind.is_empty() { "_" } else { kind })
}

fn end_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(prev_tag, 'E' | 'S')
        || (matches!(prev_tag, 'B' | 'I') && matches!(tag, 'B' | 'S' | 'O'))
        || (prev_tag != 'O' && prev_tag != '.' && prev_type != kind)
}

fn start_of_chunk(prev_tag: char, tag: char, prev_type: &str, kind: &str) -> bool {
    matches!(tag, 'B' | 'S')
        || (matches!(prev_tag, 'E' | 'S' | 'O') && matches!(tag, 'E' | 'I'))
        || (tag != 'O' && tag != '.' && prev_type != kind)
}

/// The entities of tagged sentences, as seqeval's `get_entities` finds them (sentences joined
/// with an `O` between them, so the indices run over the joined sequence).
pub fn get_entities<S: AsRef<str>>(sentences: &[Vec<S>]) -> Vec<Entity> {
    let mut seq: Vec<&str> = Vec::new();
    for s in sentences {
        seq.extend(s.iter().map(|t| t.as_ref()));
        seq.push("O");
    }
    seq.push("O");
    let mut chunks = Vec::new();
    let (mut prev_tag, mut prev_type, mut begin) = ('O', String::new(), 0usize);
    for (i, chunk) in seq.iter().enumerate() {
        let (tag, kind) = split_tag(chunk);
        if end_of_chunk(prev_tag, tag, &prev_type, kind) {
            chunks.push((prev_type.clone(), begin, i - 1));
        }
        if start_of_chunk(prev_tag, tag, &prev_type, kind) {
            begin = i;
        }
        prev_tag = tag;
        prev_type = kind.to_string();
    }
    chunks
}

/// Precision, recall, F1 and support (gold entities) of one entity type or of all.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Scores {
    /// Correct / predicted.
    pub precision: f64,
    /// Correct / gold.
    pub recall: f64,
    /// Harmonic mean of the two.
    pub f1: f64,
    /// Gold entities.
    pub support: usize,
    /// Predicted entities.
    pub predicted: usize,
    /// Exactly matched entities.
    pub correct: usize,
}

impl Scores {
    fn new(correct: usize, predicted: usize, support: usize) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(correct, predicted), ratio(correct, support));
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        Self {
            precision,
            recall,
            f1,
            support,
            predicted,
            correct,
        }
    }
}

/// seqeval's micro-averaged scores plus one row per entity type (its `classification_report`).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct EntityReport {
    /// Micro average over every entity (seqeval's `precision_score`/`recall_score`/`f1_score`).
    pub micro: Scores,
    /// Per type, sorted by name (types seen in gold or prediction).
    pub per_type: BTreeMap<String, Scores>,
}

/// Entity-level scores of `predicted` against `gold` (one tag sequence per sentence).
pub fn entity_report<S: AsRef<str>, P: AsRef<str>>(
    gold: &[Vec<S>],
    predicted: &[Vec<P>],
) -> EntityReport {
    let truth: BTreeSet<Entity> = get_entities(gold).into_iter().collect();
    let pred: BTreeSet<Entity> = get_entities(predicted).into_iter().collect();
    let correct = truth.intersection(&pred).count();
    let types: BTreeSet<&String> = truth.iter().chain(&pred).map(|e| &e.0).collect();
    let per_type = types
        .into_iter()
        .map(|kind| {
            let count = |set: &BTreeSet<Entity>| set.iter().filter(|e| &e.0 == kind).count();
            let hit = truth.intersection(&pred).filter(|e| &e.0 == kind).count();
            (kind.clone(), Scores::new(hit, count(&pred), count(&truth)))
        })
        .collect();
    EntityReport {
        micro: Scores::new(correct, pred.len(), truth.len()),
        per_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn lenient_chunking_matches_seqeval_docs() {
        // seqeval README / docstring: get_entities(['B-PER', 'I-PER', 'O', 'B-LOC'])
        // == [('PER', 0, 1), ('LOC', 3, 3)].
        let e = get_entities(&[tags("B-PER I-PER O B-LOC")]);
        assert_eq!(e, vec![("PER".into(), 0, 1), ("LOC".into(), 3, 3)]);
        // An I- after O starts a chunk; a type change splits one.
        let e = get_entities(&[tags("I-PER I-PER B-LOC I-ORG O I-LOC")]);
        assert_eq!(
            e,
            vec![
                ("PER".into(), 0, 1),
                ("LOC".into(), 2, 2),
                ("ORG".into(), 3, 3),
                ("LOC".into(), 5, 5)
            ]
        );
        // Sentences are joined with an O: an entity never spans two sentences.
        let e = get_entities(&[tags("O B-PER"), tags("I-PER")]);
        assert_eq!(e, vec![("PER".into(), 1, 1), ("PER".into(), 3, 3)]);
        // Types with hyphens keep everything after the first hyphen.
        let e = get_entities(&[tags("B-creative-work I-creative-work")]);
        assert_eq!(e, vec![("creative-work".into(), 0, 1)]);
    }
}
