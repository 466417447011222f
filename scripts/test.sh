#!/usr/bin/env bash
# Runs every test of Docket: installs the AWS emulator, the template linter, node and npm (the web
# console's build) and Chromium with its WebDriver (the console's browser tests) when missing,
# starts moto_server on a free 127.0.0.1 port for the DynamoDB tests, checks rustfmt, runs clippy (warnings are
# errors), the workspace tests (the browser tests among them), the web console's unit tests, the API fuzzing of a live `docket serve` (scripts/fuzz-api.sh, which installs
# schemathesis) and cfn-lint, and stops the emulator again. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

python=$(command -v python3 || command -v python || true)
[ -n "$python" ] || { echo "python3 is required for the AWS emulator (moto)" >&2; exit 1; }
# pip installs console scripts next to the interpreter, which may not be on PATH yet.
export PATH="$("$python" -c 'import sys, sysconfig; print(sysconfig.get_path("scripts"))'):$HOME/.local/bin:$PATH"

if ! "$python" -c 'import moto, flask, flask_cors' 2>/dev/null || ! command -v moto_server >/dev/null; then
    log "installing moto[server]"
    "$python" -m pip install --quiet 'moto[server]'
fi
if ! command -v cfn-lint >/dev/null; then
    log "installing cfn-lint"
    "$python" -m pip install --quiet cfn-lint
fi

source scripts/ensure.sh
ensure_node
ensure_chromium

port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
moto_log=$(mktemp)
log "starting the AWS emulator (moto, one request at a time) on 127.0.0.1:$port"
"$python" scripts/moto_serial.py -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 &
moto_pid=$!
cleanup() { kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; rm -f "$moto_log"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
    if "$python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/data.json', timeout=1)" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$moto_pid" 2>/dev/null || break
    sleep 0.2
done
if [ -z "${ready:-}" ]; then
    echo "moto_server did not start:" >&2
    cat "$moto_log" >&2
    exit 1
fi

export DOCKET_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

log "cargo fmt --all --check"
if ! cargo fmt --version >/dev/null 2>&1; then
    rustup component add rustfmt
fi
cargo fmt --all --check

log "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

log "cargo test --workspace"
cargo_log=$(mktemp)
set +e
cargo test --workspace --no-fail-fast "$@" 2>&1 | tee "$cargo_log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$cargo_log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '; [0-9]+ failed' "$cargo_log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
rm -f "$cargo_log"
if [ "$status" -ne 0 ]; then
    echo "cargo test failed (exit $status)" >&2
    printf 'tests: %s passed, %s failed\n' "$passed" "$((failed > 0 ? failed : 1))"
    exit "$status"
fi

log "web console unit tests (npm test in web/)"
web_log=$(mktemp)
set +e
(cd web && npm test) 2>&1 | tee "$web_log"
web_status=${PIPESTATUS[0]}
set -e
web_passed=$(sed -nE 's/^# pass ([0-9]+)$/\1/p' "$web_log" | tail -1)
web_failed=$(sed -nE 's/^# fail ([0-9]+)$/\1/p' "$web_log" | tail -1)
rm -f "$web_log"
passed=$((passed + ${web_passed:-0}))
if [ "$web_status" -ne 0 ]; then
    echo "web console unit tests failed (exit $web_status)" >&2
    failed=$((failed + ${web_failed:-0}))
    printf 'tests: %s passed, %s failed\n' "$passed" "$((failed > 0 ? failed : 1))"
    exit "$web_status"
fi

log "API fuzzing: schemathesis against docket serve as admin, agent and portal user (scripts/fuzz-api.sh)"
fuzz_log=$(mktemp)
set +e
bash scripts/fuzz-api.sh 2>&1 | tee "$fuzz_log"
fuzz_status=${PIPESTATUS[0]}
set -e
fuzz_passed=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1/p' "$fuzz_log" | tail -1)
fuzz_failed=$(sed -nE 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\2/p' "$fuzz_log" | tail -1)
rm -f "$fuzz_log"
passed=$((passed + ${fuzz_passed:-0}))
if [ "$fuzz_status" -ne 0 ]; then
    echo "API fuzzing failed (exit $fuzz_status)" >&2
    failed=$((failed + ${fuzz_failed:-0}))
    printf 'tests: %s passed, %s failed\n' "$passed" "$((failed > 0 ? failed : 1))"
    exit "$fuzz_status"
fi

log "cfn-lint template.yaml"
cfn-lint template.yaml
echo "cfn-lint: template.yaml passed"
printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
