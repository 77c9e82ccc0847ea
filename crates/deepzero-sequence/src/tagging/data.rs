//! NER corpora as BIO-tagged sentences: the PKU People's Daily corpus (character level, tags
//! derived from the part-of-speech annotation) and CoNLL files (WNUT-17), plus a small
//! vocabulary and the word-shape feature of the word-level tagger.

use crate::text::TokenTable;

/// One sentence: tokens (characters or words) and one BIO tag per token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaggedSentence {
    /// The tokens.
    pub tokens: Vec<String>,
    /// `O`, `B-TYPE` or `I-TYPE`, one per token.
    pub tags: Vec<String>,
}

/// The entity type a PKU part-of-speech tag stands for: `nr` person, `ns` place, `nt`
/// organisation.
fn pku_entity(pos: &str) -> Option<&'static str> {
    match pos {
        "nr" => Some("PER"),
        "ns" => Some("LOC"),
        "nt" => Some("ORG"),
        _ => None,
    }
}

/// Pushes `word` character by character, tagged `B-kind, I-kind, …` (or `I-` throughout when
/// `continues` extends the previous entity), or `O` when `kind` is `None`.
fn push_chars(s: &mut TaggedSentence, word: &str, kind: Option<&str>, continues: bool) {
    for (i, c) in word.chars().enumerate() {
        s.tokens.push(c.to_string());
        s.tags.push(match kind {
            None => "O".to_string(),
            Some(k) if i == 0 && !continues => format!("B-{k}"),
            Some(k) => format!("I-{k}"),
        });
    }
}

/// Character-level BIO tags of one line of the PKU People's Daily corpus (`word/POS` tokens
/// separated by spaces).
///
/// * `nr` → PER, `ns` → LOC, `nt` → ORG, every other tag → `O`.
/// * PKU splits a Chinese name into family name and given name (`江/nr 泽民/nr`): consecutive
///   `nr` tokens form one PER entity.
/// * A bracketed compound `[中国/ns 政府/n]nt` is one entity of the bracket's tag (here ORG)
///   when that tag is `nr`/`ns`/`nt`; with any other bracket tag (`]nz`, `]l`) its words keep
///   their own tags.
/// * A leading document id (`19980101-01-001-001/m` in the full PKU release) is dropped.
pub fn parse_peoples_daily_line(line: &str) -> TaggedSentence {
    let mut s = TaggedSentence {
        tokens: Vec::new(),
        tags: Vec::new(),
    };
    // Words of an open bracket: (word, pos).
    let mut bracket: Option<Vec<(String, String)>> = None;
    let mut prev_person = false;
    let flush_word = |s: &mut TaggedSentence, word: &str, pos: &str, prev_person: &mut bool| {
        let kind = pku_entity(pos);
        let continues = pos == "nr" && *prev_person;
        push_chars(s, word, kind, continues);
        *prev_person = pos == "nr";
    };
    for (n, raw) in line.split_whitespace().enumerate() {
        let opens = raw.starts_with('[') && raw.len() > 1;
        let token = if opens { &raw[1..] } else { raw };
        // A closing bracket: `word/pos]tag`.
        let (body, close) = match token.rfind(']') {
            Some(i) if i > 0 => (&token[..i], Some(&token[i + 1..])),
            _ => (token, None),
        };
        let Some((word, pos)) = body.rsplit_once('/') else {
            continue;
        };
        if n == 0
            && pos == "m"
            && word.len() > 15
            && word.chars().all(|c| c.is_ascii_digit() || c == '-')
        {
            continue; // document id
        }
        if opens {
            bracket = Some(Vec::new());
        }
        match bracket.as_mut() {
            Some(words) => {
                words.push((word.to_string(), pos.to_string()));
                if let Some(tag) = close {
                    let words = bracket.take().unwrap_or_default();
                    match pku_entity(tag) {
                        Some(kind) => {
                            let joined: String = words.iter().map(|(w, _)| w.as_str()).collect();
                            push_chars(&mut s, &joined, Some(kind), false);
                            prev_person = tag == "nr";
                        }
                        None => {
                            for (w, p) in &words {
                                flush_word(&mut s, w, p, &mut prev_person);
                            }
                        }
                    }
                }
            }
            None => flush_word(&mut s, word, pos, &mut prev_person),
        }
    }
    if let Some(words) = bracket {
        // An unclosed bracket: keep its words with their own tags.
        for (w, p) in &words {
            flush_word(&mut s, w, p, &mut prev_person);
        }
    }
    s
}

/// Splits a sentence after every sentence-final punctuation mark (`。！？`), keeping entities
/// whole (a split never falls inside an entity, since these marks are tagged `O`). People's
/// Daily lines are paragraphs; this turns them into sentences of a trainable length.
pub fn split_sentences(s: &TaggedSentence) -> Vec<TaggedSentence> {
    split_after(s, |_, token| matches!(token, "。" | "！" | "？"))
}

/// Splits a sentence longer than `soft_max` tokens after a clause mark (`，；：`) once the
/// current piece has reached `soft_max` tokens (never inside an entity: these marks are tagged
/// `O`). Keeps recurrent steps, and the padding of random batches, short.
pub fn split_long(s: &TaggedSentence, soft_max: usize) -> Vec<TaggedSentence> {
    if s.tokens.len() <= soft_max {
        return vec![s.clone()];
    }
    split_after(s, |piece_len, token| {
        piece_len >= soft_max && matches!(token, "，" | "；" | "：")
    })
}

/// Cuts `s` after every `O`-tagged token for which `cut(length of the piece so far, token)`
/// holds; the pieces keep every token and tag in order.
fn split_after(s: &TaggedSentence, cut: impl Fn(usize, &str) -> bool) -> Vec<TaggedSentence> {
    let mut out = Vec::new();
    let mut current = TaggedSentence::default();
    for (token, tag) in s.tokens.iter().zip(&s.tags) {
        current.tokens.push(token.clone());
        current.tags.push(tag.clone());
        if tag == "O" && cut(current.tokens.len(), token) {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.tokens.is_empty() {
        out.push(current);
    }
    out
}

/// How many non-blank lines the format sniffers look at.
const SNIFF_LINES: usize = 200;

/// Whether `token` is a PKU `word/POS` token (`人民/n`, `[中国/ns`, `政府/n]nt`): a non-empty
/// word, a slash, and a part-of-speech tag of one to four ASCII letters.
fn is_pku_token(token: &str) -> bool {
    let token = token.strip_prefix('[').unwrap_or(token);
    let token = match token.rfind(']') {
        Some(i) if i > 0 => &token[..i],
        _ => token,
    };
    token.rsplit_once('/').is_some_and(|(word, pos)| {
        !word.is_empty()
            && (1..=4).contains(&pos.len())
            && pos.bytes().all(|b| b.is_ascii_alphabetic())
    })
}

/// A line of PKU text: no tab, at least two whitespace-separated tokens, more than half of
/// them `word/POS` (a CoNLL line `http://t.co/x O` has one in two).
fn looks_like_pku_line(line: &str) -> bool {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let pku = tokens.iter().filter(|t| is_pku_token(t)).count();
    !line.contains('\t') && tokens.len() >= 2 && 2 * pku > tokens.len()
}

/// A line of a CoNLL file: a tab between columns, or two to four space-separated columns
/// ending in a BIO tag (`O`, `B-…`, `I-…`), and no `word/POS` token.
fn looks_like_conll_line(line: &str) -> bool {
    let cols: Vec<&str> = line.split_whitespace().collect();
    if cols.iter().any(|t| is_pku_token(t)) {
        return false;
    }
    let bio = |tag: &str| {
        tag == "O"
            || ["B-", "I-", "E-", "S-"]
                .iter()
                .any(|p| tag.strip_prefix(p).is_some_and(|t| !t.is_empty()))
    };
    line.trim().contains('\t')
        || ((2..=4).contains(&cols.len()) && cols.last().is_some_and(|t| bio(t)))
}

/// The first [`SNIFF_LINES`] non-blank lines with their 1-based numbers.
fn sniff_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(SNIFF_LINES)
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .collect()
}

/// A short, one-line excerpt of `line` for an error message.
fn excerpt(line: &str) -> String {
    let short: String = line.chars().take(40).collect();
    let dots = if short.len() < line.len() { "…" } else { "" };
    format!("{:?}{dots}", short)
}

/// Reads a PKU People's Daily corpus (`word/POS` tokens, one paragraph a line): one
/// [`TaggedSentence`] per non-blank line, tagged as [`parse_peoples_daily_line`] does (split
/// them with [`split_sentences`] and [`split_long`]).
///
/// # Errors
/// A one-line message when the text is not in this format: it looks like a CoNLL file (most
/// of its first lines are `token<TAB>tag`), or none of its first lines holds a `word/POS`
/// token. Without this check a CoNLL file "trains" with every character tagged `O`.
pub fn read_peoples_daily(text: &str) -> Result<Vec<TaggedSentence>, String> {
    let lines = sniff_lines(text);
    if lines.is_empty() {
        return Err("no text: expected People's Daily `word/POS` lines".into());
    }
    let conll = lines
        .iter()
        .filter(|(_, l)| looks_like_conll_line(l))
        .count();
    if 2 * conll >= lines.len() {
        let (n, first) = lines[0];
        return Err(format!(
            "looks like a CoNLL file (`token<TAB>tag` per line, e.g. line {n}: {}), not People's \
             Daily `word/POS` text",
            excerpt(first)
        ));
    }
    if !lines
        .iter()
        .any(|(_, l)| l.split_whitespace().any(is_pku_token))
    {
        return Err(format!(
            "no `word/POS` token in the first {} non-blank lines: not People's Daily text",
            lines.len()
        ));
    }
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(parse_peoples_daily_line)
        .collect())
}

/// Reads a CoNLL file: one `token<TAB>tag` (or space-separated; the tag is the last column,
/// the token the first) per line, a blank line between sentences.
///
/// # Errors
/// A message naming the 1-based line of a non-blank line with fewer than two columns, or
/// saying that the text looks like People's Daily `word/POS` text (more than half of its
/// first lines are runs of `word/POS` tokens, which would otherwise be read as a token and a made-up tag).
pub fn read_conll(text: &str) -> Result<Vec<TaggedSentence>, String> {
    let lines = sniff_lines(text);
    let pku = lines.iter().filter(|(_, l)| looks_like_pku_line(l)).count();
    if 2 * pku > lines.len() {
        let (n, first) = lines[0];
        return Err(format!(
            "looks like People's Daily `word/POS` text (e.g. line {n}: {}), not a CoNLL file \
             (`token<TAB>tag` per line)",
            excerpt(first)
        ));
    }
    let mut out = Vec::new();
    let mut current = TaggedSentence {
        tokens: Vec::new(),
        tags: Vec::new(),
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.tokens.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    TaggedSentence {
                        tokens: Vec::new(),
                        tags: Vec::new(),
                    },
                ));
            }
            continue;
        }
        let cols: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        if cols.len() < 2 || cols[0].is_empty() {
            return Err(format!(
                "line {}: expected `token<TAB>tag`, got {line:?}",
                i + 1
            ));
        }
        current.tokens.push(cols[0].to_string());
        current.tags.push(cols[cols.len() - 1].trim().to_string());
    }
    if !current.tokens.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// The tagger's word and tag lists: the crate's [`TokenTable`] (`<pad>` = 0 and `<unk>` = 1
/// for words built by frequency; tag sets from their fixed list by
/// [`TokenTable::from_tokens`]).
pub type Vocab = TokenTable;

/// Number of [`word_shape`] classes (0 is padding).
pub const NUM_SHAPES: usize = 7;

/// A word's shape, the case feature of the word-level tagger: 1 all lower-case, 2 capitalised,
/// 3 all upper-case, 4 mixed case, 5 has a digit, 6 no letter (punctuation, emoji); `@user`,
/// `#tag` and URLs count by their letters.
pub fn word_shape(word: &str) -> usize {
    let letters: Vec<char> = word.chars().filter(|c| c.is_alphabetic()).collect();
    if word.chars().any(|c| c.is_ascii_digit()) {
        return 5;
    }
    if letters.is_empty() {
        return 6;
    }
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if upper == 0 {
        1
    } else if upper == letters.len() {
        if letters.len() == 1 { 2 } else { 3 }
    } else if letters[0].is_uppercase() && upper == 1 {
        2
    } else {
        4
    }
}

/// The word as the word-level vocabulary stores it: lower-cased, digits folded to `0`, user
/// mentions to `@user` and links to `<url>` (the case survives in [`word_shape`]).
pub fn normalise_word(word: &str) -> String {
    if word.starts_with('@') && word.len() > 1 {
        return "@user".into();
    }
    if word.starts_with("http") || word.starts_with("www.") {
        return "<url>".into();
    }
    word.chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PKU: &str = "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n\n\
                       中共中央/nt  总书记/n  、/w  国家/n  主席/n  江/nr  泽民/nr\n\
                       （/w  一九九七年/t  十二月/t  三十一日/t  ）/w\n";
    const CONLL: &str = "@paulwalk\tO\nIt\tO\n's\tO\n\nEmpire\tB-location\nState\tI-location\n";

    #[test]
    fn a_conll_file_is_refused_where_peoples_daily_is_expected() {
        let err = read_peoples_daily(CONLL).unwrap_err();
        assert!(err.starts_with("looks like a CoNLL file"), "{err}");
        assert!(err.contains("line 1") && !err.contains('\n'), "{err}");
        // Space-separated CoNLL as well.
        let err = read_peoples_daily("Empire B-location\nState I-location\n. O\n").unwrap_err();
        assert!(err.starts_with("looks like a CoNLL file"), "{err}");
        // Plain prose has no `word/POS` token at all.
        let err = read_peoples_daily("just some words\nand more of them\n").unwrap_err();
        assert!(err.starts_with("no `word/POS` token"), "{err}");
    }

    #[test]
    fn peoples_daily_text_is_refused_where_conll_is_expected() {
        let err = read_conll(PKU).unwrap_err();
        assert!(err.starts_with("looks like People's Daily"), "{err}");
        assert!(err.contains("line 1") && !err.contains('\n'), "{err}");
    }

    #[test]
    fn each_reader_accepts_its_own_format() {
        let pd = read_peoples_daily(PKU).unwrap();
        assert_eq!(pd.len(), 3);
        assert_eq!(
            pd[1].tags[pd[1].tags.len() - 3..],
            ["B-PER", "I-PER", "I-PER"]
        );
        let conll = read_conll(CONLL).unwrap();
        assert_eq!(conll.len(), 2);
        assert_eq!(conll[1].tags, ["B-location", "I-location"]);
        // A CoNLL token that holds a slash (a URL) does not make the file People's Daily.
        let urls = "http://t.co/abc\tO\nsee\tO\n";
        assert_eq!(read_conll(urls).unwrap()[0].tokens[0], "http://t.co/abc");
        let urls = "http://t.co/abc O\nhttp://x.y/z O\n";
        assert_eq!(read_conll(urls).unwrap()[0].tags, ["O", "O"]);
    }

    fn pairs(s: &TaggedSentence) -> Vec<String> {
        s.tokens
            .iter()
            .zip(&s.tags)
            .map(|(t, g)| format!("{t}/{g}"))
            .collect()
    }

    #[test]
    fn peoples_daily_line_with_split_name_and_bracketed_compound() {
        // Hand-written in the PKU format: a split name (江/nr 泽民/nr), a bracketed
        // organisation, a bracket of another tag (kept word by word), a place and an
        // organisation word.
        let line = "19980101-01-001-002/m  [中国/ns  政府/n]nt  主席/n  江/nr  泽民/nr  在/p  \
                    [北京/ns  大学/n]nz  会见/v  邓/nr  。/w  新华社/nt  记者/n";
        let s = parse_peoples_daily_line(line);
        let expected = [
            "中/B-ORG",
            "国/I-ORG",
            "政/I-ORG",
            "府/I-ORG",
            "主/O",
            "席/O",
            "江/B-PER",
            "泽/I-PER",
            "民/I-PER",
            "在/O",
            "北/B-LOC",
            "京/I-LOC",
            "大/O",
            "学/O",
            "会/O",
            "见/O",
            "邓/B-PER",
            "。/O",
            "新/B-ORG",
            "华/I-ORG",
            "社/I-ORG",
            "记/O",
            "者/O",
        ];
        assert_eq!(pairs(&s), expected);
        let parts = split_sentences(&s);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].tokens.last().map(String::as_str), Some("。"));
        assert_eq!(parts[1].tags[0], "B-ORG");
        let pieces = split_long(&parse_peoples_daily_line("我/r  ，/w  你/r  ，/w  他/r"), 2);
        let texts: Vec<String> = pieces.iter().map(|p| p.tokens.concat()).collect();
        assert_eq!(texts, ["我，", "你，", "他"]);
    }

    #[test]
    fn conll_reader_reads_sentences_and_rejects_bad_lines() {
        let text = "@paul\tO\nLondon\tB-location\nEye\tI-location\n\nhi\tO\n\n\n";
        let s = read_conll(text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].tokens, ["@paul", "London", "Eye"]);
        assert_eq!(s[0].tags, ["O", "B-location", "I-location"]);
        assert_eq!(s[1].tokens, ["hi"]);
        let err = read_conll("a\tO\nbroken\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn vocab_shapes_and_normalisation() {
        let v = Vocab::build(["a", "b", "a", "c", "a", "b"], 2);
        assert_eq!(v.tokens(), ["<pad>", "<unk>", "a", "b"]);
        assert_eq!(v.id("b"), 3);
        assert_eq!(v.id("zzz"), Vocab::UNK);
        assert_eq!(
            ["hello", "London", "NASA", "iPhone", "B2B", "!!", "I"].map(word_shape),
            [1, 2, 3, 4, 5, 6, 2]
        );
        assert_eq!(normalise_word("London2017"), "london0000");
        assert_eq!(normalise_word("@Bob"), "@user");
        assert_eq!(normalise_word("https://t.co/x"), "<url>");
    }
}
