//! The raw Planetoid files (`ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}`, from
//! kimiyoung/planetoid and tkipf/gcn): Python-2 pickles of SciPy CSR matrices, NumPy arrays and
//! a `defaultdict(list)` adjacency, read by a small pickle machine that knows exactly the
//! opcodes and classes those files use — nothing is executed, unknown opcodes and classes are
//! errors.
//!
//! The assembly follows tkipf/gcn's `load_data`: features and labels are `allx`/`ally` followed
//! by `tx`/`ty`, the test rows are put back at the node ids listed in `test.index`, CiteSeer's
//! missing test ids get empty rows (no features, no label), the split is `y`'s rows for
//! training, the next 500 for validation and the sorted `test.index` for testing.

use std::collections::HashMap;
use std::path::Path;

use super::dataset::{Features, NodeDataset, Split};
use super::graph::Graph;
use super::read::read_text;
use crate::error::{GraphError, Result};

/// A value of the pickle machine.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Text(String),
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name`.
    Global(String),
    /// An instance: its class (a `Global`), the constructor arguments, and its `BUILD` state.
    Object(Box<Value>, Vec<Value>, Option<Box<Value>>),
    Mark,
}

impl Value {
    fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// Runs the pickle in `bytes` and returns the value `STOP` finds.
fn unpickle(path: &Path, bytes: &[u8]) -> Result<Value> {
    let bad = |pos: usize, msg: String| GraphError::parse(path, 0, format!("byte {pos}: {msg}"));
    let mut stack: Vec<Value> = Vec::new();
    let mut memo: HashMap<u32, Value> = HashMap::new();
    let mut pos = 0usize;
    let take = |pos: &mut usize, n: usize| -> Result<&[u8]> {
        let s = bytes.get(*pos..*pos + n).ok_or_else(|| {
            GraphError::parse(
                path,
                0,
                format!("byte {}: file ends inside an opcode", *pos),
            )
        })?;
        *pos += n;
        Ok(s)
    };
    let line = |pos: &mut usize| -> Result<String> {
        let rest = &bytes[(*pos).min(bytes.len())..];
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| {
            GraphError::parse(path, 0, format!("byte {}: unterminated line", *pos))
        })?;
        *pos += end + 1;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    fn pop_mark(stack: &mut Vec<Value>) -> Option<Vec<Value>> {
        let at = stack.iter().rposition(|v| *v == Value::Mark)?;
        let items = stack.split_off(at + 1);
        stack.pop();
        Some(items)
    }
    loop {
        let at = pos;
        let op = *take(&mut pos, 1)?.first().unwrap_or(&0);
        let underflow = || bad(at, format!("opcode {op:#04x} on a short stack"));
        match op {
            0x80 => {
                take(&mut pos, 1)?; // PROTO n
            }
            b'.' => return stack.pop().ok_or_else(underflow), // STOP
            b'c' => {
                let module = line(&mut pos)?;
                let name = line(&mut pos)?;
                stack.push(Value::Global(format!("{module}.{name}")));
            }
            b'q' => {
                let k = take(&mut pos, 1)?[0] as u32;
                memo.insert(k, stack.last().cloned().ok_or_else(underflow)?);
            }
            b'r' => {
                let k = u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap_or([0; 4]));
                memo.insert(k, stack.last().cloned().ok_or_else(underflow)?);
            }
            b'h' | b'j' => {
                let k = if op == b'h' {
                    take(&mut pos, 1)?[0] as u32
                } else {
                    u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap_or([0; 4]))
                };
                stack.push(
                    memo.get(&k)
                        .cloned()
                        .ok_or_else(|| bad(at, format!("memo {k} is empty")))?,
                );
            }
            b'(' => stack.push(Value::Mark),
            b')' => stack.push(Value::Tuple(Vec::new())),
            b'}' => stack.push(Value::Dict(Vec::new())),
            b']' => stack.push(Value::List(Vec::new())),
            b'N' => stack.push(Value::None),
            0x88 => stack.push(Value::Bool(true)),
            0x89 => stack.push(Value::Bool(false)),
            b'K' => stack.push(Value::Int(i64::from(take(&mut pos, 1)?[0]))),
            b'M' => stack.push(Value::Int(i64::from(u16::from_le_bytes(
                take(&mut pos, 2)?.try_into().unwrap_or([0; 2]),
            )))),
            b'J' => stack.push(Value::Int(i64::from(i32::from_le_bytes(
                take(&mut pos, 4)?.try_into().unwrap_or([0; 4]),
            )))),
            0x8a => {
                // LONG1: little-endian two's complement of n bytes.
                let n = take(&mut pos, 1)?[0] as usize;
                let b = take(&mut pos, n)?;
                if n > 8 {
                    return Err(bad(at, format!("a {n}-byte integer")));
                }
                let mut v: i64 = 0;
                for (i, byte) in b.iter().enumerate() {
                    v |= i64::from(*byte) << (8 * i);
                }
                if n > 0 && n < 8 && b[n - 1] & 0x80 != 0 {
                    v -= 1i64 << (8 * n);
                }
                stack.push(Value::Int(v));
            }
            b'G' => stack.push(Value::Float(f64::from_be_bytes(
                take(&mut pos, 8)?.try_into().unwrap_or([0; 8]),
            ))),
            b'U' | b'C' => {
                let n = take(&mut pos, 1)?[0] as usize;
                stack.push(Value::Bytes(take(&mut pos, n)?.to_vec()));
            }
            b'T' | b'B' => {
                let n =
                    u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap_or([0; 4])) as usize;
                stack.push(Value::Bytes(take(&mut pos, n)?.to_vec()));
            }
            b'X' | 0x8c => {
                let n = if op == b'X' {
                    u32::from_le_bytes(take(&mut pos, 4)?.try_into().unwrap_or([0; 4])) as usize
                } else {
                    take(&mut pos, 1)?[0] as usize
                };
                stack.push(Value::Text(
                    String::from_utf8_lossy(take(&mut pos, n)?).into_owned(),
                ));
            }
            b't' => {
                let items = pop_mark(&mut stack).ok_or_else(underflow)?;
                stack.push(Value::Tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                if stack.len() < n {
                    return Err(underflow());
                }
                let items = stack.split_off(stack.len() - n);
                stack.push(Value::Tuple(items));
            }
            b'R' | 0x81 => {
                // REDUCE (callable, args) / NEWOBJ (cls, args)
                let args = stack.pop().ok_or_else(underflow)?;
                let callable = stack.pop().ok_or_else(underflow)?;
                let Value::Tuple(args) = args else {
                    return Err(bad(at, "arguments are not a tuple".into()));
                };
                let Value::Global(_) = &callable else {
                    return Err(bad(at, "only classes can be called".into()));
                };
                stack.push(Value::Object(Box::new(callable), args, None));
            }
            b'b' => {
                let state = stack.pop().ok_or_else(underflow)?;
                match stack.last_mut() {
                    Some(Value::Object(_, _, s)) => *s = Some(Box::new(state)),
                    _ => return Err(bad(at, "BUILD on a value that is not an object".into())),
                }
            }
            b'a' => {
                let v = stack.pop().ok_or_else(underflow)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.push(v),
                    _ => return Err(bad(at, "APPEND to a value that is not a list".into())),
                }
            }
            b'e' => {
                let items = pop_mark(&mut stack).ok_or_else(underflow)?;
                match stack.last_mut() {
                    Some(Value::List(l)) => l.extend(items),
                    _ => return Err(bad(at, "APPENDS to a value that is not a list".into())),
                }
            }
            b's' | b'u' => {
                let items = if op == b's' {
                    let v = stack.pop().ok_or_else(underflow)?;
                    let k = stack.pop().ok_or_else(underflow)?;
                    vec![k, v]
                } else {
                    pop_mark(&mut stack).ok_or_else(underflow)?
                };
                let pairs = items
                    .chunks(2)
                    .filter(|c| c.len() == 2)
                    .map(|c| (c[0].clone(), c[1].clone()));
                match stack.last_mut() {
                    Some(Value::Dict(d)) => d.extend(pairs),
                    // defaultdict(list): an object whose items are set directly.
                    Some(Value::Object(_, args, state)) => {
                        let _ = args;
                        let mut dict = match state.take().map(|b| *b) {
                            Some(Value::Dict(d)) => d,
                            _ => Vec::new(),
                        };
                        dict.extend(pairs);
                        *state = Some(Box::new(Value::Dict(dict)));
                    }
                    _ => return Err(bad(at, "SETITEMS on a value that is not a dict".into())),
                }
            }
            other => return Err(bad(at, format!("unsupported pickle opcode {other:#04x}"))),
        }
    }
}

/// A NumPy array: shape and values (as f64).
fn ndarray(path: &Path, v: &Value) -> Result<(Vec<usize>, Vec<f64>)> {
    let err = |m: &str| GraphError::parse(path, 0, format!("not a NumPy array: {m}"));
    let Value::Object(class, _, Some(state)) = v else {
        return Err(err("no state"));
    };
    match &**class {
        Value::Global(g) if g.ends_with("multiarray._reconstruct") => {}
        _ => return Err(err("unexpected class")),
    }
    let Value::Tuple(s) = &**state else {
        return Err(err("state is not a tuple"));
    };
    // (version, shape, dtype, is_fortran, raw bytes)
    let [_, Value::Tuple(shape), dtype, fortran, raw] = &s[..] else {
        return Err(err("unexpected state layout"));
    };
    if *fortran == Value::Bool(true) {
        return Err(err("Fortran order is not supported"));
    }
    let shape: Vec<usize> = shape
        .iter()
        .map(|d| match d {
            Value::Int(n) if *n >= 0 => Ok(*n as usize),
            _ => Err(err("bad shape")),
        })
        .collect::<Result<_>>()?;
    let Value::Object(_, dargs, _) = dtype else {
        return Err(err("bad dtype"));
    };
    let code = dargs
        .first()
        .and_then(Value::as_text)
        .unwrap_or("")
        .to_string();
    let Value::Bytes(raw) = raw else {
        return Err(err("no data bytes"));
    };
    let values: Vec<f64> = match code.as_str() {
        "f8" => raw
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect(),
        "f4" => raw
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        "i8" => raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f64)
            .collect(),
        "i4" => raw
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
            .collect(),
        "b1" | "u1" => raw.iter().map(|&b| f64::from(b)).collect(),
        other => return Err(err(&format!("dtype {other:?} is not supported"))),
    };
    if values.len() != shape.iter().product::<usize>() {
        return Err(err("data length does not match the shape"));
    }
    Ok((shape, values))
}

/// A SciPy CSR matrix as dense rows `[rows, cols]`.
fn csr_dense(path: &Path, v: &Value) -> Result<(usize, usize, Vec<f32>)> {
    let err = |m: &str| GraphError::parse(path, 0, format!("not a SciPy CSR matrix: {m}"));
    let Value::Object(class, _, Some(state)) = v else {
        return Err(err("no state"));
    };
    match &**class {
        Value::Global(g) if g.ends_with("csr_matrix") => {}
        _ => return Err(err("unexpected class")),
    }
    let Value::Dict(d) = &**state else {
        return Err(err("state is not a dict"));
    };
    let get = |k: &str| {
        d.iter()
            .find(|(key, _)| key.as_text() == Some(k))
            .map(|(_, v)| v)
    };
    let shape = match get("_shape") {
        Some(Value::Tuple(t)) => match &t[..] {
            [Value::Int(r), Value::Int(c)] if *r >= 0 && *c >= 0 => (*r as usize, *c as usize),
            _ => return Err(err("bad shape")),
        },
        _ => return Err(err("no shape")),
    };
    let (_, indptr) = ndarray(path, get("indptr").ok_or_else(|| err("no indptr"))?)?;
    let (_, indices) = ndarray(path, get("indices").ok_or_else(|| err("no indices"))?)?;
    let (_, data) = ndarray(path, get("data").ok_or_else(|| err("no data"))?)?;
    if indptr.len() != shape.0 + 1 || indices.len() != data.len() {
        return Err(err("inconsistent indptr/indices/data"));
    }
    let mut dense = vec![0.0f32; shape.0 * shape.1];
    for r in 0..shape.0 {
        let (a, b) = (indptr[r] as usize, indptr[r + 1] as usize);
        for k in a..b.min(indices.len()) {
            let c = indices[k] as usize;
            if c >= shape.1 {
                return Err(err("column out of range"));
            }
            dense[r * shape.1 + c] = data[k] as f32;
        }
    }
    Ok((shape.0, shape.1, dense))
}

fn load(dir: &Path, name: &str, part: &str) -> Result<(std::path::PathBuf, Value)> {
    let path = dir.join(format!("ind.{name}.{part}"));
    let bytes = super::read::read_bytes(&path)?;
    let value = unpickle(&path, &bytes)?;
    Ok((path, value))
}

/// Reads the raw Planetoid pickles of `name` (`cora`, `citeseer`) from `dir` (the folder
/// holding `ind.<name>.*`) into the same [`NodeDataset`] as [`super::read_planetoid`] gives
/// for the text conversion. Class names are `0, 1, …` (the pickles carry none).
///
/// # Errors
/// [`GraphError::Parse`] naming the file for anything the reader does not recognise.
pub fn read_planetoid_raw(dir: &Path, name: &str) -> Result<NodeDataset> {
    let labels_of = |part: &str| -> Result<(usize, usize, Vec<Option<usize>>)> {
        let (path, v) = load(dir, name, part)?;
        let (shape, values) = ndarray(&path, &v)?;
        let [rows, cols] = shape[..] else {
            return Err(GraphError::parse(&path, 0, "labels are not a matrix"));
        };
        let labels = values
            .chunks(cols.max(1))
            .map(|row| row.iter().position(|&x| x > 0.5))
            .collect();
        Ok((rows, cols, labels))
    };
    let features_of = |part: &str| -> Result<(usize, usize, Vec<f32>)> {
        let (path, v) = load(dir, name, part)?;
        csr_dense(&path, &v)
    };
    let (n_train, classes, _) = labels_of("y")?;
    let (n_all, dim, allx) = features_of("allx")?;
    let (_, _, ally) = labels_of("ally")?;
    let (n_test, tdim, tx) = features_of("tx")?;
    let (_, _, ty) = labels_of("ty")?;
    let index_path = dir.join(format!("ind.{name}.test.index"));
    let mut test_index = Vec::new();
    for (i, l) in read_text(&index_path)?.lines().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        test_index.push(l.trim().parse::<usize>().map_err(|_| {
            GraphError::parse(&index_path, i + 1, format!("{l:?} is not a node id"))
        })?);
    }
    if tdim != dim || test_index.len() != n_test || ally.len() != n_all {
        return Err(GraphError::parse(
            &index_path,
            0,
            "the parts of the dataset do not fit together",
        ));
    }
    let mut sorted = test_index.clone();
    sorted.sort_unstable();
    let (lo, hi) = (
        sorted.first().copied().unwrap_or(n_all),
        sorted.last().copied().unwrap_or(n_all),
    );
    // The test rows fill ids lo..=hi; CiteSeer misses some of them (empty rows, no label).
    let n = n_all.max(hi + 1).max(lo + n_test);
    let mut values = vec![0.0f32; n * dim];
    let mut labels: Vec<Option<usize>> = vec![None; n];
    values[..n_all * dim].copy_from_slice(&allx);
    labels[..n_all].clone_from_slice(&ally);
    for (k, &node) in test_index.iter().enumerate() {
        values[node * dim..(node + 1) * dim].copy_from_slice(&tx[k * dim..(k + 1) * dim]);
        labels[node] = ty[k];
    }

    let (graph_path, graph) = load(dir, name, "graph")?;
    let dict = match graph {
        Value::Object(_, _, Some(state)) => match *state {
            Value::Dict(d) => d,
            _ => Vec::new(),
        },
        Value::Dict(d) => d,
        _ => {
            return Err(GraphError::parse(
                &graph_path,
                0,
                "the graph is not a dict of lists",
            ));
        }
    };
    let mut edges = Vec::new();
    for (k, v) in dict {
        let (Value::Int(a), Value::List(neigh)) = (k, v) else {
            return Err(GraphError::parse(
                &graph_path,
                0,
                "the graph is not a dict of lists",
            ));
        };
        for b in neigh {
            if let Value::Int(b) = b {
                edges.push((a as usize, b as usize));
            }
        }
    }
    if let Some(&(a, b)) = edges.iter().find(|(a, b)| *a >= n || *b >= n) {
        return Err(GraphError::parse(
            &graph_path,
            0,
            format!("edge ({a}, {b}) names an unknown node (the graph has nodes 0..{n})"),
        ));
    }
    let graph = Graph::from_edges(n, &edges)?;
    let valid: Vec<usize> = (n_train..n_train + 500)
        .filter(|&i| labels[i].is_some())
        .collect();
    let split = Split {
        train: (0..n_train).collect(),
        valid,
        test: sorted
            .into_iter()
            .filter(|&i| labels[i].is_some())
            .collect(),
    };
    Ok(NodeDataset {
        name: name.to_string(),
        graph,
        features: Some(Features { dim, values }),
        labels,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        split: Some(split),
        node_names: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `pickle.dumps(collections.defaultdict(list, {0: [1, 2], 300: [70000]}), protocol=2)`
    /// as Python 2 writes it (hand-assembled), plus a REDUCE of a tuple of ints.
    #[test]
    fn unpickles_a_defaultdict_of_lists() {
        let mut p = vec![0x80, 2];
        p.extend(b"ccollections\ndefaultdict\nq\x00c__builtin__\nlist\nq\x01\x85Rq\x02(");
        p.extend(b"K\x00]q\x03(K\x01K\x02e");
        p.extend(b"M\x2c\x01]q\x04J\x70\x11\x01\x00a");
        p.extend(b"u.");
        let v = unpickle(Path::new("g"), &p).unwrap();
        let Value::Object(_, _, Some(state)) = v else {
            panic!("{v:?}")
        };
        assert_eq!(
            *state,
            Value::Dict(vec![
                (
                    Value::Int(0),
                    Value::List(vec![Value::Int(1), Value::Int(2)])
                ),
                (Value::Int(300), Value::List(vec![Value::Int(70000)])),
            ])
        );
    }

    #[test]
    fn ndarray_and_csr_state_are_decoded() {
        let dtype = Value::Object(
            Box::new(Value::Global("numpy.dtype".into())),
            vec![Value::Bytes(b"i4".to_vec()), Value::Int(0), Value::Int(1)],
            None,
        );
        let arr = |vals: &[i32]| {
            let raw: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
            Value::Object(
                Box::new(Value::Global("numpy.core.multiarray._reconstruct".into())),
                vec![],
                Some(Box::new(Value::Tuple(vec![
                    Value::Int(1),
                    Value::Tuple(vec![Value::Int(vals.len() as i64)]),
                    dtype.clone(),
                    Value::Bool(false),
                    Value::Bytes(raw),
                ]))),
            )
        };
        let key = |k: &str| Value::Bytes(k.as_bytes().to_vec());
        let csr = Value::Object(
            Box::new(Value::Global("scipy.sparse.csr.csr_matrix".into())),
            vec![],
            Some(Box::new(Value::Dict(vec![
                (
                    key("_shape"),
                    Value::Tuple(vec![Value::Int(2), Value::Int(3)]),
                ),
                (key("indptr"), arr(&[0, 1, 3])),
                (key("indices"), arr(&[2, 0, 1])),
                (key("data"), arr(&[5, 6, 7])),
            ]))),
        );
        let (r, c, dense) = csr_dense(Path::new("x"), &csr).unwrap();
        assert_eq!((r, c), (2, 3));
        assert_eq!(dense, vec![0.0, 0.0, 5.0, 6.0, 7.0, 0.0]);
    }

    #[test]
    fn truncated_and_unknown_opcodes_are_errors() {
        let err = unpickle(Path::new("f"), &[0x80, 2, b'J', 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("f:") && err.contains("ends inside"), "{err}");
        let err = unpickle(Path::new("f"), &[0x80, 2, b'i'])
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported pickle opcode"), "{err}");
    }

    /// Cross-check on the staged data (`cargo test --release -p deepzero-graph -- --ignored`):
    /// the raw pickles and the text conversion give the same dataset.
    #[test]
    #[ignore = "needs ../shared/datasets/graphs"]
    fn raw_pickles_equal_the_text_conversion() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/graphs");
        for name in ["cora", "citeseer"] {
            let dir = root.join(format!("{name}-planetoid"));
            let raw = read_planetoid_raw(&dir.join("raw"), name).unwrap();
            let text = super::super::read_planetoid(&dir, name).unwrap();
            assert_eq!(raw.labels, text.labels, "{name}");
            assert_eq!(raw.graph.edges(), text.graph.edges(), "{name}");
            assert_eq!(raw.features, text.features, "{name}");
            assert_eq!(raw.split, text.split, "{name}");
        }
    }
}
