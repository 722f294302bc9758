//! The interactive SQL prompt, after psql: input is gathered over several
//! lines until a `;` ends a statement, backslash commands act at once, and
//! Ctrl-C clears the input (or cancels a running statement) while Ctrl-D
//! leaves.

use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::config::Config;
use rustyline::error::ReadlineError;
use thermocline::{Error, ErrorKind, Session};
use tokio::runtime::Runtime;

use super::format::Format;
use super::split::split;
use super::sql::{Printer, Stop, print_error};

const PROMPT: &str = "thermocline=> ";
const CONTINUATION: &str = "thermocline-> ";

/// User tables only, as psql's `\dt` lists them.
const LIST_TABLES: &str = "SELECT table_schema AS schema, table_name AS name, table_type AS type \
     FROM information_schema.tables WHERE table_schema <> 'information_schema' ORDER BY 1, 2";

const HELP: &str = r"General
  \q                  quit (or Ctrl-D)
  \?                  this help
Query buffer
  a statement runs when a line ends it with ;   Ctrl-C clears the buffer
  Ctrl-C while a statement runs cancels it
Informational
  \dt                 list tables
  \d [NAME]           describe table NAME (list tables without NAME)
Formatting
  \timing [on|off]    toggle or set printing of each statement's run time
  \format [table|csv|json]  set or show the output format
SQL beyond SELECT/INSERT: CREATE TABLE ... PARTITION BY (day(ts), bucket(8, id)),
  DROP TABLE, CREATE SCHEMA, CHECKPOINT [table], SHOW TABLES, DESCRIBE t, EXPLAIN [ANALYZE]";

/// The history file: `$THERMOCLINE_HISTORY`, else `~/.thermocline_history`.
pub fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("THERMOCLINE_HISTORY").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".thermocline_history"))
}

/// Run the prompt until `\q` or Ctrl-D.
pub fn run(runtime: &Runtime, session: &Session, mut printer: Printer) -> Result<(), Error> {
    let config = Config::builder()
        .auto_add_history(false)
        .history_ignore_space(true)
        .build();
    let mut editor = DefaultEditor::with_config(config)
        .map_err(|e| Error::new(ErrorKind::Config, "cannot start the line editor").with_source(e))?;
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the normal first run.
        let _ = editor.load_history(path);
    }
    println!(
        "thermocline {} — type \\? for help, \\q to quit.",
        env!("CARGO_PKG_VERSION")
    );

    let mut buffer = String::new();
    loop {
        let prompt = if buffer.trim().is_empty() { PROMPT } else { CONTINUATION };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(Error::new(ErrorKind::Config, "cannot read input").with_source(e)),
        };
        let trimmed = line.trim();
        if buffer.trim().is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match meta_command(trimmed, &mut printer) {
                Meta::Quit => break,
                Meta::Done => {}
                Meta::Sql(sql) => {
                    run_cancellable(runtime, session, &printer, &sql);
                }
            }
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        let parts = split(&buffer);
        if parts.complete.is_empty() {
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim());
        for statement in &parts.complete {
            if run_cancellable(runtime, session, &printer, &statement.text) == Some(Stop::Closed) {
                break;
            }
        }
        buffer = parts.rest.map(|rest| rest.text).unwrap_or_default();
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        eprintln!("WARNING:  could not save history to {}: {e}", path.display());
    }
    Ok(())
}

/// Run one statement; Ctrl-C cancels it (the statement's future is dropped,
/// which abandons it between steps: an INSERT is either acknowledged in the
/// hot tier or not written).
fn run_cancellable(runtime: &Runtime, session: &Session, printer: &Printer, sql: &str) -> Option<Stop> {
    runtime.block_on(async {
        tokio::select! {
            result = printer.run(session, sql, None) => result.err(),
            _ = tokio::signal::ctrl_c() => {
                print_error(&Error::new(ErrorKind::Internal, "canceling statement due to user request"), None);
                Some(Stop::Failed)
            }
        }
    })
}

enum Meta {
    Quit,
    Done,
    /// Run this SQL.
    Sql(String),
}

fn meta_command(line: &str, printer: &mut Printer) -> Meta {
    let mut words = line.split_whitespace();
    let command = words.next().unwrap_or_default();
    let argument = words.next();
    match (command, argument) {
        ("\\q", _) => Meta::Quit,
        ("\\?" | "\\h" | "\\help", _) => {
            println!("{HELP}");
            Meta::Done
        }
        ("\\timing", arg) => {
            printer.timing = match arg.map(str::to_ascii_lowercase).as_deref() {
                Some("on") => true,
                Some("off") => false,
                _ => !printer.timing,
            };
            println!("Timing is {}.", if printer.timing { "on" } else { "off" });
            Meta::Done
        }
        ("\\format", None) => {
            println!("Output format is {}.", format_name(printer.format));
            Meta::Done
        }
        ("\\format", Some(name)) => {
            match name.to_ascii_lowercase().as_str() {
                "table" => printer.format = Format::Table,
                "csv" => printer.format = Format::Csv,
                "json" => printer.format = Format::Json,
                other => {
                    eprintln!("\\format: unknown format \"{other}\" (table, csv or json)");
                    return Meta::Done;
                }
            }
            println!("Output format is {}.", format_name(printer.format));
            Meta::Done
        }
        ("\\dt", _) | ("\\d", None) => Meta::Sql(LIST_TABLES.to_string()),
        ("\\d", Some(name)) => Meta::Sql(format!("DESCRIBE {name}")),
        (other, _) => {
            eprintln!("invalid command {other}\nTry \\? for help.");
            Meta::Done
        }
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Table => "table",
        Format::Csv => "csv",
        Format::Json => "json",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printer() -> Printer {
        Printer {
            format: Format::Table,
            timing: false,
        }
    }

    #[test]
    fn meta_commands_map_to_sql_or_settings() {
        let mut p = printer();
        assert!(matches!(meta_command("\\q", &mut p), Meta::Quit));
        assert!(matches!(meta_command("\\d events", &mut p), Meta::Sql(sql) if sql == "DESCRIBE events"));
        assert!(matches!(meta_command("\\dt", &mut p), Meta::Sql(sql) if sql == LIST_TABLES));
        assert!(matches!(meta_command("\\timing", &mut p), Meta::Done));
        assert!(p.timing);
        assert!(matches!(meta_command("\\timing off", &mut p), Meta::Done));
        assert!(!p.timing);
        assert!(matches!(meta_command("\\format csv", &mut p), Meta::Done));
        assert_eq!(p.format, Format::Csv);
        assert!(matches!(meta_command("\\nope", &mut p), Meta::Done));
    }
}
