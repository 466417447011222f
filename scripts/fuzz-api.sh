#!/usr/bin/env bash
# Fuzzes a live `docket serve` with schemathesis as an admin, an agent and a portal contact (see
# scripts/fuzz_api.py): installs the pinned schemathesis when missing, builds the docket binary
# when it is missing or stale, and fails on any 5xx, any response the OpenAPI document does not allow, a
# crash, or a server that does not stop cleanly. Arguments go to scripts/fuzz_api.py
# (`--max-examples N`, `--seed N`, `--roles portal,agent,admin`, `--keep`, `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5

python=$(command -v python3 || command -v python || true)
[ -n "$python" ] || { echo "python3 is required for schemathesis" >&2; exit 1; }
# pip installs console scripts next to the interpreter, which may not be on PATH yet.
export PATH="$("$python" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"

if [ "$(schemathesis --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    printf '\n==> installing schemathesis %s\n' "$SCHEMATHESIS_VERSION"
    "$python" -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

# The binary `cargo test --workspace` built; built here only when it is missing or older than a
# source it is made from (so a filtered test run cannot fuzz a stale server).
docket="${CARGO_TARGET_DIR:-target}/debug/docket"
if [ ! -x "$docket" ] || [ -n "$(find Cargo.toml Cargo.lock docket functions shared \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock -o -name openapi.json \) -newer "$docket" -print -quit)" ]; then
    printf '\n==> cargo build -p docket\n'
    cargo build -p docket
fi

exec "$python" scripts/fuzz_api.py --docket "$docket" "$@"
