#!/usr/bin/env bash
# THE test command (README, .ci/run): set-up, formatting, lints, then the
# whole test suite including the interop tests against real pyiceberg and
# DuckDB. Exits non-zero on the first failing stage (the test stage itself
# runs every test before failing: --no-fail-fast).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

"$repo/scripts/setup.sh"

# Builds live outside the clone so CI's fresh clone reuses them.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thermocline/target}"
mkdir -p "$CARGO_TARGET_DIR"
# The interop tests run these scripts' peers; they fail (not skip) under CI
# when this interpreter is missing.
export THERMOCLINE_PYTHON="$repo/.venv/bin/python"

stage() { printf '\n==> %s\n' "$*" >&2; }
started=$SECONDS

stage "cargo fmt --all -- --check"
cargo fmt --all -- --check

stage "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

if cargo nextest --version >/dev/null 2>&1; then
    stage "cargo nextest run --workspace --no-fail-fast"
    cargo nextest run --workspace --no-fail-fast
else
    stage "cargo test --workspace --no-fail-fast (cargo-nextest missing)"
    cargo test --workspace --no-fail-fast --lib --bins --tests
fi

# nextest does not run doctests.
stage "cargo test --workspace --doc"
cargo test --workspace --doc

stage "all passed in $((SECONDS - started)) s (target dir: $CARGO_TARGET_DIR)"
