//! Splitting SQL text into statements at the `;` that end them, the way
//! psql does: a `;` inside a string, a quoted identifier, a dollar-quoted
//! body or a comment does not end anything. The REPL uses the unfinished
//! remainder to decide whether to prompt for more input.
//!
//! A hand-written scanner rather than sqlparser's tokenizer because input
//! typed so far is often not yet valid (an open string, half a comment) and
//! must still be split.

/// One complete statement, without its `;`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub text: String,
    /// 1-based line of the statement's first meaningful character.
    pub line: usize,
}

/// Statements ended by `;`, then what follows the last `;`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Split {
    pub complete: Vec<Statement>,
    /// Text after the last `;`; `None` when it holds only whitespace and
    /// comments.
    pub rest: Option<Statement>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    /// `'...'`; `escapes` for `E'...'` where a backslash escapes a quote.
    String {
        escapes: bool,
    },
    QuotedIdent,
    LineComment,
    /// `/* ... */`, which PostgreSQL nests.
    BlockComment(usize),
}

/// Split `text` into statements.
pub fn split(text: &str) -> Split {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Split::default();
    let mut state = State::Code;
    let mut start = 0; // char index where the current statement began
    let mut first_line: Option<usize> = None; // line of its first meaningful char
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match state {
            State::Code => match c {
                ';' => {
                    if let Some(l) = first_line.take() {
                        out.complete.push(Statement {
                            text: chars[start..i].iter().collect::<String>().trim().to_string(),
                            line: l,
                        });
                    }
                    start = i + 1;
                }
                '-' if next == Some('-') => {
                    state = State::LineComment;
                    i += 1;
                }
                '/' if next == Some('*') => {
                    state = State::BlockComment(1);
                    i += 1;
                }
                _ => {
                    if !c.is_whitespace() && first_line.is_none() {
                        first_line = Some(line);
                    }
                    match c {
                        '\'' => {
                            let escapes = i > 0
                                && matches!(chars[i - 1], 'e' | 'E')
                                && (i < 2 || !(chars[i - 2].is_alphanumeric() || chars[i - 2] == '_'));
                            state = State::String { escapes };
                        }
                        '"' => state = State::QuotedIdent,
                        '$' => {
                            if let Some(end) = dollar_quote_end(&chars, i) {
                                line += chars[i..end].iter().filter(|&&c| c == '\n').count();
                                i = end;
                                continue;
                            }
                        }
                        _ => {}
                    }
                }
            },
            State::String { escapes } => match c {
                '\\' if escapes => {
                    if next == Some('\n') {
                        line += 1;
                    }
                    i += 1;
                }
                '\'' if next == Some('\'') => i += 1,
                '\'' => state = State::Code,
                _ => {}
            },
            State::QuotedIdent => match c {
                '"' if next == Some('"') => i += 1,
                '"' => state = State::Code,
                _ => {}
            },
            State::LineComment => {
                if c == '\n' {
                    state = State::Code;
                }
            }
            State::BlockComment(depth) => {
                if c == '*' && next == Some('/') {
                    state = if depth == 1 {
                        State::Code
                    } else {
                        State::BlockComment(depth - 1)
                    };
                    i += 1;
                } else if c == '/' && next == Some('*') {
                    state = State::BlockComment(depth + 1);
                    i += 1;
                }
            }
        }
        if c == '\n' {
            line += 1;
        }
        i += 1;
    }
    let unfinished = !matches!(state, State::Code | State::LineComment);
    if let Some(l) = first_line {
        out.rest = Some(Statement {
            text: chars[start..].iter().collect::<String>().trim().to_string(),
            line: l,
        });
    } else if unfinished {
        // An open block comment: nothing meaningful yet, but more must come.
        out.rest = Some(Statement {
            text: chars[start..].iter().collect::<String>().trim().to_string(),
            line,
        });
    }
    out
}

/// If a dollar quote (`$$` or `$tag$`) opens at `at`, the index just past
/// its closing delimiter (or the end of input when it is not closed yet).
/// `$1` parameters are not dollar quotes.
fn dollar_quote_end(chars: &[char], at: usize) -> Option<usize> {
    if at > 0 && (chars[at - 1].is_alphanumeric() || chars[at - 1] == '_') {
        return None;
    }
    let mut j = at + 1;
    while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
        j += 1;
    }
    if j >= chars.len() || chars[j] != '$' || chars.get(at + 1).is_some_and(|c| c.is_ascii_digit()) {
        return None;
    }
    let tag = &chars[at..=j];
    let body = j + 1;
    let mut k = body;
    while k + tag.len() <= chars.len() {
        if &chars[k..k + tag.len()] == tag {
            return Some(k + tag.len());
        }
        k += 1;
    }
    Some(chars.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(split: &Split) -> Vec<&str> {
        split.complete.iter().map(|s| s.text.as_str()).collect()
    }

    #[test]
    fn splits_at_semicolons_and_keeps_the_rest() {
        let s = split("SELECT 1; SELECT 2;\nSELECT");
        assert_eq!(texts(&s), ["SELECT 1", "SELECT 2"]);
        assert_eq!(
            s.rest,
            Some(Statement {
                text: "SELECT".into(),
                line: 2
            })
        );
    }

    #[test]
    fn semicolons_inside_quotes_and_comments_do_not_split() {
        let sql = "SELECT 'a;''b', \"c;d\" -- x;y\n, 1 /* p; /* q; */ r; */ FROM t; SELECT E'\\';' ;";
        let s = split(sql);
        assert_eq!(
            texts(&s),
            [
                "SELECT 'a;''b', \"c;d\" -- x;y\n, 1 /* p; /* q; */ r; */ FROM t",
                "SELECT E'\\';'"
            ]
        );
        assert_eq!(s.rest, None);
    }

    #[test]
    fn dollar_quotes_hide_semicolons_but_parameters_do_not() {
        let s = split("SELECT $$a;b$$, $tag$ ; $$ $tag$; INSERT INTO t VALUES ($1); x");
        assert_eq!(
            texts(&s),
            ["SELECT $$a;b$$, $tag$ ; $$ $tag$", "INSERT INTO t VALUES ($1)"]
        );
        assert_eq!(s.rest.map(|r| r.text), Some("x".to_string()));
    }

    #[test]
    fn open_strings_and_comments_are_unfinished() {
        assert!(split("SELECT 'abc;").complete.is_empty());
        assert!(split("SELECT 'abc;").rest.is_some());
        assert!(split("/* still; open").rest.is_some());
        assert!(split("SELECT $$ x;").complete.is_empty());
    }

    #[test]
    fn blank_and_comment_only_input_has_no_statements() {
        assert_eq!(split("  \n -- just a comment; really\n ; ;"), Split::default());
        assert_eq!(split("/* done */").rest, None);
    }

    #[test]
    fn reports_the_line_each_statement_starts_on() {
        let s = split("-- header\n\nSELECT 1;\n\n  SELECT\n 2;");
        let lines: Vec<usize> = s.complete.iter().map(|s| s.line).collect();
        assert_eq!(lines, [3, 5]);
    }

    #[test]
    fn backslashes_escape_only_in_e_strings() {
        // A standard string: the backslash is a plain character.
        let s = split("SELECT 'x\\'; SELECT 2;");
        assert_eq!(texts(&s), ["SELECT 'x\\'", "SELECT 2"]);
    }
}
