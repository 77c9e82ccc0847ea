//! Readers for the plain graph formats: TSV edge and node lists, and (Newman-style) GML.
//!
//! Both name bad input by file and line. Node ids in TSV files are `0..n` integers; GML node
//! ids may be any integers and are mapped to `0..n` in the order the nodes are listed.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{GraphError, Result};

/// Reads a whole text file within the read limit of [`deepzero_data::limits`] (an error names
/// the file).
pub(crate) fn read_text(path: &Path) -> Result<String> {
    deepzero_data::read_text_file(path).map_err(from_data)
}

/// Reads a whole file within the read limit of [`deepzero_data::limits`].
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    deepzero_data::read_file(path).map_err(from_data)
}

/// Reads a gzip text file: at most the read limit from disk, at most the decompression limit
/// once inflated (a gzip bomb is refused, not inflated).
pub(crate) fn read_gz_text(path: &Path) -> Result<String> {
    let limits = deepzero_data::ReadLimits::from_env().map_err(from_data)?;
    let raw = deepzero_data::read_file_limited(path, limits.max_read).map_err(from_data)?;
    let decoder = flate2::read::GzDecoder::new(raw.as_slice());
    let bytes = deepzero_data::limits::read_decompressed(decoder, path, limits.max_decompressed)
        .map_err(from_data)?;
    String::from_utf8(bytes)
        .map_err(|e| GraphError::parse(path, 0, format!("not UTF-8 text: {}", e.utf8_error())))
}

/// A data-crate error as this crate's: I/O stays I/O, the rest (a limit, bad UTF-8) keeps its
/// one-line message, which names the file.
fn from_data(error: deepzero_data::DataError) -> GraphError {
    match error {
        deepzero_data::DataError::Io { path, source } => GraphError::Io { path, source },
        e => GraphError::Invalid(e.to_string()),
    }
}

/// Splits a TSV line into fields on tabs (or runs of spaces when the line has no tab).
fn fields(line: &str) -> Vec<&str> {
    if line.contains('\t') {
        line.split('\t').map(str::trim).collect()
    } else {
        line.split_whitespace().collect()
    }
}

/// An edge list: one `source<TAB>target[<TAB>weight]` per line.
///
/// A first line whose first two fields are not integers is a header (`source target`) and is
/// skipped; blank lines and lines starting with `#` or `%` are skipped; a weight column is
/// ignored. Returns the raw pairs (clean them with [`crate::data::Graph::from_edges`]) and the
/// largest id seen plus one.
///
/// # Errors
/// [`GraphError::Parse`] naming the line when a row has fewer than two fields or an id is not
/// a non-negative integer; [`GraphError::Parse`] when `num_nodes` is given and an edge names a
/// node outside `0..num_nodes`.
pub fn read_edge_list(
    path: &Path,
    num_nodes: Option<usize>,
) -> Result<(Vec<(usize, usize)>, usize)> {
    let text = read_text(path)?;
    let mut edges = Vec::new();
    let mut max_id = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('%') {
            continue;
        }
        let f = fields(line);
        if f.len() < 2 {
            return Err(GraphError::parse(
                path,
                line_no,
                format!("expected `source<TAB>target`, found {line:?}"),
            ));
        }
        let (a, b) = (f[0].parse::<usize>(), f[1].parse::<usize>());
        let (a, b) = match (a, b) {
            (Ok(a), Ok(b)) => (a, b),
            _ if edges.is_empty() && line_no == first_data_line(&text) => continue, // header
            _ => {
                return Err(GraphError::parse(
                    path,
                    line_no,
                    format!(
                        "node ids must be non-negative integers, found {:?} and {:?}",
                        f[0], f[1]
                    ),
                ));
            }
        };
        if let Some(n) = num_nodes
            && (a >= n || b >= n)
        {
            return Err(GraphError::parse(
                path,
                line_no,
                format!("edge ({a}, {b}) names an unknown node (the graph has nodes 0..{n})"),
            ));
        }
        max_id = max_id.max(a + 1).max(b + 1);
        edges.push((a, b));
    }
    Ok((edges, max_id))
}

/// 1-based number of the first line that is neither blank nor a comment.
fn first_data_line(text: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim();
            !(l.is_empty() || l.starts_with('#') || l.starts_with('%'))
        })
        .map_or(0, |i| i + 1)
}

/// A node table: `id<TAB>label<TAB>value` with a header line, as the staged graphs ship it.
/// Rows may come in any order but must name each id in `0..rows` exactly once. Returns
/// `(label, value)` per node id, empty strings where a column is empty or missing.
///
/// # Errors
/// [`GraphError::Parse`] on a non-integer id, a repeated id, or ids that are not `0..rows`.
pub fn read_node_table(path: &Path) -> Result<Vec<(String, String)>> {
    let text = read_text(path)?;
    let mut rows: Vec<(usize, usize, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() || (line_no == 1 && line.starts_with("id")) {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let id = f[0].trim().parse::<usize>().map_err(|_| {
            GraphError::parse(
                path,
                line_no,
                format!("node id must be an integer, found {:?}", f[0]),
            )
        })?;
        let get = |k: usize| f.get(k).map_or(String::new(), |s| s.trim().to_string());
        rows.push((id, line_no, get(1), get(2)));
    }
    let n = rows.len();
    let mut out = vec![None; n];
    for (id, line_no, label, value) in rows {
        if id >= n {
            return Err(GraphError::parse(
                path,
                line_no,
                format!("node id {id} out of range: the table has {n} rows, so ids must be 0..{n}"),
            ));
        }
        if out[id].is_some() {
            return Err(GraphError::parse(
                path,
                line_no,
                format!("node id {id} listed twice"),
            ));
        }
        out[id] = Some((label, value));
    }
    Ok(out.into_iter().map(|r| r.unwrap_or_default()).collect())
}

/// A graph read from GML.
#[derive(Clone, Debug, PartialEq)]
pub struct GmlGraph {
    /// The `directed` flag of the file (the edges are still read as undirected pairs).
    pub directed: bool,
    /// The GML `id` of each node, in file order; node `i` of the edge list is `ids[i]`.
    pub ids: Vec<i64>,
    /// Each node's `label` (empty if absent).
    pub labels: Vec<String>,
    /// Each node's `value` (empty if absent), as text.
    pub values: Vec<String>,
    /// Edges as pairs of node positions (`0..ids.len()`).
    pub edges: Vec<(usize, usize)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Word(String),
    Text(String),
}

fn tokenize(path: &Path, text: &str) -> Result<Vec<(Token, usize)>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(&c) = chars.peek() {
        match c {
            '\n' => {
                line += 1;
                chars.next();
            }
            c if c.is_whitespace() => {
                chars.next();
            }
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '[' => {
                out.push((Token::Open, line));
                chars.next();
            }
            ']' => {
                out.push((Token::Close, line));
                chars.next();
            }
            '"' => {
                let start = line;
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            s.push(c);
                        }
                        None => return Err(GraphError::parse(path, start, "unterminated string")),
                    }
                }
                out.push((Token::Text(s), start));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '[' || c == ']' || c == '"' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push((Token::Word(s), line));
            }
        }
    }
    Ok(out)
}

/// Reads a GML file: `graph [ directed 0 node [ id 0 label "x" value 1 ] … edge [ source 1
/// target 0 ] … ]`. Other keys (and nested lists such as `graphics`) are skipped.
///
/// # Errors
/// [`GraphError::Parse`] naming the line on unbalanced brackets, a key without a value, a node
/// without an integer `id`, a repeated id, or an edge whose `source`/`target` names no node.
pub fn read_gml(path: &Path) -> Result<GmlGraph> {
    let text = read_text(path)?;
    let tokens = tokenize(path, &text)?;
    let mut pos = 0;
    // Find `graph [`.
    while pos < tokens.len() && tokens[pos].0 != Token::Word("graph".into()) {
        pos += 1;
    }
    if pos + 1 >= tokens.len() || tokens[pos + 1].0 != Token::Open {
        return Err(GraphError::parse(path, 0, "no `graph [` list found"));
    }
    pos += 2;

    /// Reads `key value` pairs of one list until its `]`; nested lists are returned as `None`.
    fn read_list(
        path: &Path,
        tokens: &[(Token, usize)],
        pos: &mut usize,
    ) -> Result<Vec<(String, Option<String>, usize)>> {
        let mut out = Vec::new();
        loop {
            let Some((tok, line)) = tokens.get(*pos) else {
                let line = tokens.last().map_or(0, |t| t.1);
                return Err(GraphError::parse(
                    path,
                    line,
                    "unbalanced brackets: missing `]`",
                ));
            };
            *pos += 1;
            match tok {
                Token::Close => return Ok(out),
                Token::Word(key) => match tokens.get(*pos) {
                    Some((Token::Open, _)) => {
                        *pos += 1;
                        read_list(path, tokens, pos)?; // skip nested list (its content is unused)
                        out.push((key.clone(), None, *line));
                    }
                    Some((Token::Word(v) | Token::Text(v), _)) => {
                        *pos += 1;
                        out.push((key.clone(), Some(v.clone()), *line));
                    }
                    _ => {
                        return Err(GraphError::parse(
                            path,
                            *line,
                            format!("key `{key}` has no value"),
                        ));
                    }
                },
                _ => return Err(GraphError::parse(path, *line, "expected a key")),
            }
        }
    }

    let mut graph = GmlGraph {
        directed: false,
        ids: Vec::new(),
        labels: Vec::new(),
        values: Vec::new(),
        edges: Vec::new(),
    };
    let mut position: HashMap<i64, usize> = HashMap::new();
    let mut raw_edges: Vec<(String, String, usize)> = Vec::new();
    loop {
        let Some((tok, line)) = tokens.get(pos).cloned() else {
            return Err(GraphError::parse(
                path,
                0,
                "unbalanced brackets: `graph [` is never closed",
            ));
        };
        pos += 1;
        match tok {
            Token::Close => break,
            Token::Word(key) => {
                let is_list = matches!(tokens.get(pos), Some((Token::Open, _)));
                if is_list {
                    pos += 1;
                    let items = read_list(path, &tokens, &mut pos)?;
                    let get = |k: &str| {
                        items
                            .iter()
                            .find(|(key, _, _)| key == k)
                            .and_then(|(_, v, _)| v.clone())
                    };
                    match key.as_str() {
                        "node" => {
                            let id =
                                get("id")
                                    .and_then(|v| v.parse::<i64>().ok())
                                    .ok_or_else(|| {
                                        GraphError::parse(
                                            path,
                                            line,
                                            "node without an integer `id`",
                                        )
                                    })?;
                            if position.insert(id, graph.ids.len()).is_some() {
                                return Err(GraphError::parse(
                                    path,
                                    line,
                                    format!("node id {id} listed twice"),
                                ));
                            }
                            graph.ids.push(id);
                            graph.labels.push(get("label").unwrap_or_default());
                            graph.values.push(get("value").unwrap_or_default());
                        }
                        "edge" => {
                            let (Some(s), Some(t)) = (get("source"), get("target")) else {
                                return Err(GraphError::parse(
                                    path,
                                    line,
                                    "edge without `source` and `target`",
                                ));
                            };
                            raw_edges.push((s, t, line));
                        }
                        _ => {}
                    }
                } else {
                    let value = tokens.get(pos).cloned();
                    pos += 1;
                    match value {
                        Some((Token::Word(v) | Token::Text(v), _)) => {
                            if key == "directed" {
                                graph.directed = v.trim() == "1";
                            }
                        }
                        _ => {
                            return Err(GraphError::parse(
                                path,
                                line,
                                format!("key `{key}` has no value"),
                            ));
                        }
                    }
                }
            }
            _ => return Err(GraphError::parse(path, line, "expected a key")),
        }
    }
    for (s, t, line) in raw_edges {
        let find = |v: &str| {
            v.parse::<i64>()
                .ok()
                .and_then(|id| position.get(&id).copied())
                .ok_or_else(|| {
                    GraphError::parse(path, line, format!("edge names unknown node {v:?}"))
                })
        };
        graph.edges.push((find(&s)?, find(&t)?));
    }
    Ok(graph)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn edge_list_with_header_comments_and_weights() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "e.tsv",
            "source\ttarget\tweight\n# c\n0\t1\t2\n\n2\t1\t1\n",
        );
        let (edges, n) = read_edge_list(&p, None).unwrap();
        assert_eq!(edges, vec![(0, 1), (2, 1)]);
        assert_eq!(n, 3);
    }

    #[test]
    fn edge_list_errors_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "e.tsv", "0\t1\n1\tx\n");
        let err = read_edge_list(&p, None).unwrap_err().to_string();
        assert!(err.contains("e.tsv:2:") && err.contains("\"x\""), "{err}");
        let p = write(dir.path(), "f.tsv", "0\t1\n1\t7\n");
        let err = read_edge_list(&p, Some(5)).unwrap_err().to_string();
        assert!(
            err.contains("f.tsv:2:") && err.contains("unknown node"),
            "{err}"
        );
        let p = write(dir.path(), "g.tsv", "0\n");
        assert!(
            read_edge_list(&p, None)
                .unwrap_err()
                .to_string()
                .contains("g.tsv:1:")
        );
    }

    #[test]
    fn node_table_checks_ids() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "n.tsv", "id\tlabel\tvalue\n1\tb\t1\n0\ta\t0\n");
        assert_eq!(
            read_node_table(&p).unwrap(),
            vec![("a".into(), "0".into()), ("b".into(), "1".into())]
        );
        let p = write(dir.path(), "m.tsv", "id\tlabel\tvalue\n0\ta\t0\n0\tb\t1\n");
        assert!(
            read_node_table(&p)
                .unwrap_err()
                .to_string()
                .contains("m.tsv:3:")
        );
    }

    #[test]
    fn gml_nodes_edges_and_nested_lists() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "g.gml",
            "Creator \"x\"\ngraph\n[\n  directed 1\n  node [ id 5 label \"five\" value 1 graphics [ x 1 ] ]\n  node\n  [\n    id 7\n  ]\n  edge [ source 7 target 5 value 3 ]\n]\n",
        );
        let g = read_gml(&p).unwrap();
        assert!(g.directed);
        assert_eq!(g.ids, vec![5, 7]);
        assert_eq!(g.labels, vec!["five".to_string(), String::new()]);
        assert_eq!(g.values, vec!["1".to_string(), String::new()]);
        assert_eq!(g.edges, vec![(1, 0)]);
    }

    #[test]
    fn gml_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "g.gml",
            "graph [\n node [ id 0 ]\n edge [ source 0 target 9 ]\n]\n",
        );
        let err = read_gml(&p).unwrap_err().to_string();
        assert!(
            err.contains("g.gml:3:") && err.contains("unknown node"),
            "{err}"
        );
        let p = write(dir.path(), "h.gml", "graph [\n node [ id 0 ]\n");
        assert!(read_gml(&p).unwrap_err().to_string().contains("unbalanced"));
        let p = write(dir.path(), "i.gml", "graph [\n node [ label \"a\" ]\n]\n");
        assert!(read_gml(&p).unwrap_err().to_string().contains("i.gml:2:"));
    }
}
