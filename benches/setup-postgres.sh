#!/usr/bin/env bash
# Prints the folder holding PostgreSQL's server programs (initdb, pg_ctl,
# postgres) for benches/wire.rs, installing Debian's `postgresql` first when
# this machine has none. Idempotent: a second run finds them and installs
# nothing. Messages go to stderr; stdout is the folder alone.
#
# Looks in $THERMOCLINE_BENCH_PG_BIN, /usr/local/bin, /usr/lib/postgresql/*/bin
# (newest major first), then $PATH.
set -euo pipefail

has_server() {
    [ -n "$1" ] && [ -x "$1/initdb" ] && [ -x "$1/pg_ctl" ] && [ -x "$1/postgres" ]
}

find_bin() {
    local dir
    for dir in "${THERMOCLINE_BENCH_PG_BIN:-}" /usr/local/bin; do
        if has_server "$dir"; then
            echo "$dir"
            return 0
        fi
    done
    # Debian keeps the server programs off $PATH, one folder per major version.
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if has_server "$dir"; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null 2>&1; then
        dir=$(dirname "$(command -v initdb)")
        if has_server "$dir"; then
            echo "$dir"
            return 0
        fi
    fi
    return 1
}

if find_bin; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
echo "setup-postgres: no PostgreSQL server found; installing Debian's postgresql" >&2
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
if ! find_bin; then
    echo "setup-postgres: postgresql is installed but initdb, pg_ctl and postgres are not in one folder" >&2
    exit 1
fi
