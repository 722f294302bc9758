//! Running SQL text and printing what each statement returns, the way psql
//! does: rows as a table (or CSV/JSON), a command tag (`INSERT 0 5`) for
//! statements without rows, `Time: ... ms` with timing on, and errors as
//! `ERROR:  message` plus the SQLSTATE on the next line.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thermocline::{Error, ErrorKind, Session, StatementOutput};

use super::format::{Format, write_rows};
use super::split::{Statement, split};

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub format: Format,
    pub timing: bool,
}

/// Where a statement came from, for error messages (`thermocline:f.sql:3:`).
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    pub file: &'a str,
    pub line: usize,
}

/// One `-c` or `-f` argument, in command-line order.
#[derive(Debug, Clone)]
pub enum Source {
    Command(String),
    /// `-` reads stdin.
    File(PathBuf),
}

/// Why running stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// A statement failed; the error is already printed.
    Failed,
    /// Stdout is gone (`| head`): stop quietly.
    Closed,
}

impl Printer {
    /// Run one statement and print its results. On failure the error is
    /// printed (with `origin`, if any) and `Stop::Failed` returned.
    pub async fn run(&self, session: &Session, text: &str, origin: Option<Origin<'_>>) -> Result<(), Stop> {
        let started = Instant::now();
        session.scan_progress().reset();
        let display = tokio::spawn(super::progress::scan_bar(session.scan_progress().clone()));
        let result = session.execute(text).await;
        display.abort();
        let _ = display.await;
        let elapsed = started.elapsed();
        for warning in session.take_warnings() {
            eprintln!("WARNING:  {warning}");
        }
        match result {
            Ok(outputs) => {
                for output in &outputs {
                    self.print(output)?;
                }
                if self.timing {
                    self.print_timing(elapsed)?;
                }
                Ok(())
            }
            Err(e) => {
                print_error(&e, origin);
                if self.timing {
                    self.print_timing(elapsed)?;
                }
                Err(Stop::Failed)
            }
        }
    }

    fn print(&self, output: &StatementOutput) -> Result<(), Stop> {
        if output.has_rows() {
            let mut stdout = io::stdout().lock();
            write_rows(&mut stdout, self.format, &output.schema, &output.batches).map_err(|e| output_error(&e))?;
            stdout.flush().map_err(|e| output_error(&e))
        } else {
            self.print_status(&output.tag)
        }
    }

    /// Command tags and timings: on stdout for people; on stderr when stdout
    /// carries CSV or JSON, so it parses.
    fn print_status(&self, line: &str) -> Result<(), Stop> {
        if self.format.is_machine_readable() {
            eprintln!("{line}");
            Ok(())
        } else {
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "{line}")
                .and_then(|()| stdout.flush())
                .map_err(|e| output_error(&e))
        }
    }

    fn print_timing(&self, elapsed: Duration) -> Result<(), Stop> {
        self.print_status(&format!("Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0))
    }

    /// Run `-c` and `-f` sources in order, stopping at the first error.
    pub async fn run_sources(&self, session: &Session, sources: &[Source]) -> Result<(), Stop> {
        for source in sources {
            match source {
                Source::Command(sql) => self.run_text(session, sql, None).await?,
                Source::File(path) => {
                    let name = path.display().to_string();
                    let text = read_source(path).map_err(|e| {
                        print_error(&e, None);
                        Stop::Failed
                    })?;
                    self.run_text(session, &text, Some(&name)).await?;
                }
            }
        }
        Ok(())
    }

    /// Every statement in `text`, the last one with or without its `;`.
    pub async fn run_text(&self, session: &Session, text: &str, file: Option<&str>) -> Result<(), Stop> {
        let parts = split(text);
        for Statement { text, line } in parts.complete.iter().chain(parts.rest.iter()) {
            let origin = file.map(|file| Origin { file, line: *line });
            self.run(session, text, origin).await?;
        }
        Ok(())
    }
}

fn read_source(path: &Path) -> Result<String, Error> {
    let result = if path.as_os_str() == "-" {
        io::read_to_string(io::stdin())
    } else {
        std::fs::read_to_string(path)
    };
    result.map_err(|e| {
        Error::new(ErrorKind::Config, format!("cannot read SQL file: {e}")).with_context("file", path.display())
    })
}

/// `ERROR:  message` and `SQLSTATE xxxxx`, prefixed with the file and line
/// of the statement when it came from a file.
pub fn print_error(e: &Error, origin: Option<Origin<'_>>) {
    let prefix = origin
        .map(|o| format!("thermocline:{}:{}: ", o.file, o.line))
        .unwrap_or_default();
    eprintln!("{prefix}ERROR:  {e}\nSQLSTATE {}", e.kind().sqlstate());
}

fn output_error(e: &dyn std::fmt::Display) -> Stop {
    let text = e.to_string();
    // A reader that went away (`| head`) is not an error worth a message.
    if text.contains("Broken pipe") {
        return Stop::Closed;
    }
    eprintln!("ERROR:  cannot write the result: {text}\nSQLSTATE 58030");
    Stop::Failed
}
