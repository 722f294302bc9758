#!/usr/bin/env bash
# THE benchmark command (README, benches/README.md): set-up (the Python peers
# DuckDB and pyiceberg, as for the tests), a release build of the suite, then
# every group side by side with its peers. Writes benches/RESULTS.md and
# benches/results/tpch-ratios.svg.
#
#   scripts/bench.sh                 # the full suite, TPC-H SF1 (~30-40 min on 2 cores from scratch)
#   scripts/bench.sh --sf 10         # TPC-H at SF10
#   scripts/bench.sh --quick         # a smoke run (SF0.05, small tables), results in the temp folder
#   scripts/bench.sh tpch pruning    # only these groups
#
# Data and warehouses go under $THERMOCLINE_BENCH_DIR (default: the temp
# folder); the generated TPC-H Parquet is kept there and reused.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

"$repo/scripts/setup.sh"

# The same build cache as scripts/test.sh, outside the clone.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thermocline/target}"
mkdir -p "$CARGO_TARGET_DIR"
export THERMOCLINE_PYTHON="${THERMOCLINE_PYTHON:-$repo/.venv/bin/python}"
# Panics keep their backtraces, errors take none: with RUST_BACKTRACE on,
# iceberg-rust captures one per manifest a filtered scan checks.
export RUST_LIB_BACKTRACE="${RUST_LIB_BACKTRACE:-0}"

started=$SECONDS
printf '\n==> cargo bench --bench suite -- %s\n' "$*" >&2
cargo bench --bench suite -- "$@"
printf '\n==> benchmark suite finished in %d min %d s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) >&2
