#!/usr/bin/env bash
# One-time (and idempotent) set-up for building and testing thermocline:
#   - protoc (Debian protobuf-compiler), which lance's build needs;
#   - .venv at the repo root with the pinned Python peers of the interop
#     tests (pyiceberg, DuckDB + its iceberg/avro extensions) and of the wire
#     tests (psycopg);
#   - psql (Debian postgresql-client) and openssl, for tests/pg_wire.rs;
#   - node-postgres (npm `pg`, pinned by tests/pg_clients/node's lockfile)
#     in ~/.cache/thermocline/node-pg, for tests/pg_wire.rs;
#   - cargo-nextest, the test runner scripts/test.sh uses.
# Each step checks first and does nothing when already satisfied, so a
# second run takes well under a second.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
requirements="$repo/scripts/python-requirements.txt"
constraints="$repo/scripts/python-constraints.txt"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Run as root directly, else through sudo when there is one.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (no sudo here); install it by hand and re-run"
    fi
}

# apt-get update once per run, and only when something is to be installed.
apt_updated=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found: install $* with your package manager and re-run"
    if [ "$apt_updated" -eq 0 ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v cargo >/dev/null 2>&1 \
    || die "cargo not found: install Rust (https://rustup.rs), then re-run"

# 1. protoc
if command -v protoc >/dev/null 2>&1; then
    say "protoc: $(protoc --version) (present)"
else
    apt_install protobuf-compiler
    say "protoc: $(protoc --version) (installed)"
fi

# 2. Python venv with the pinned peers. The stamp records the hash of the
# pins and the interpreter, so editing a pin rebuilds the venv's packages.
python="${THERMOCLINE_SETUP_PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
    apt_install python3 python3-venv
    python=python3
fi
stamp="$venv/.thermocline-pins"
version() { "$1" -c 'import sys; print(sys.version.split()[0])'; }
want="$(cat "$requirements" "$constraints" | sha256sum | cut -d' ' -f1) $(version "$python")"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    say "python peers: $venv (up to date)"
else
    # A venv of another interpreter version is rebuilt, not patched.
    if [ -x "$venv/bin/python" ] && [ "$(version "$venv/bin/python")" != "$(version "$python")" ]; then
        say "removing $venv (built with Python $(version "$venv/bin/python"))"
        rm -rf "$venv"
    fi
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv with $("$python" --version 2>&1)"
        # Debian's python3 has no ensurepip without python3-venv.
        if ! "$python" -m venv "$venv" 2>/dev/null; then
            rm -rf "$venv"
            apt_install python3-venv
            "$python" -m venv "$venv"
        fi
    fi
    say "installing python peers into $venv (pyiceberg, duckdb + iceberg/avro extensions, psycopg, moto)"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r "$requirements" -c "$constraints"
    echo "$want" >"$stamp"
    say "python peers: installed"
fi

# 3. psql and openssl: the wire tests' real client and their certificates.
if command -v psql >/dev/null 2>&1; then
    say "psql: $(psql --version) (present)"
else
    apt_install postgresql-client
    say "psql: $(psql --version) (installed)"
fi
if command -v openssl >/dev/null 2>&1; then
    say "openssl: $(openssl version) (present)"
else
    apt_install openssl
    say "openssl: $(openssl version) (installed)"
fi

# 4. node-postgres, installed from the lockfile into a cache folder that
# tests/pg_wire.rs finds by default (or THERMOCLINE_NODE_MODULES). The stamp
# records the hash of the manifest, the lockfile and node's version.
node_src="$repo/tests/pg_clients/node"
node_dir="${THERMOCLINE_NODE_PG_DIR:-$HOME/.cache/thermocline/node-pg}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
fi
node_stamp="$node_dir/.thermocline-pins"
node_want="$(cat "$node_src/package.json" "$node_src/package-lock.json" | sha256sum | cut -d' ' -f1) $(node --version)"
if [ -d "$node_dir/node_modules/pg" ] && [ -f "$node_stamp" ] && [ "$(cat "$node_stamp")" = "$node_want" ]; then
    say "node-postgres: $node_dir (up to date)"
else
    say "installing node-postgres into $node_dir (npm ci)"
    mkdir -p "$node_dir"
    cp "$node_src/package.json" "$node_src/package-lock.json" "$node_dir/"
    (cd "$node_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2)
    echo "$node_want" >"$node_stamp"
    say "node-postgres: installed"
fi

# 5. cargo-nextest
if cargo nextest --version >/dev/null 2>&1; then
    say "cargo-nextest: $(cargo nextest --version 2>/dev/null | head -n1) (present)"
else
    say "installing cargo-nextest (cargo install --locked, a few minutes)"
    if cargo install --locked cargo-nextest >&2; then
        say "cargo-nextest: installed"
    else
        # scripts/test.sh falls back to cargo test when nextest is missing.
        say "cargo-nextest could not be installed; scripts/test.sh will use cargo test"
    fi
fi
