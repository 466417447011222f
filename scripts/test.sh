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

# Runs a step that reports its own counts: adds them to the totals, and stops on its failure.
# $1 names it; $2 and $3 are sed expressions printing its passed and failed counts; the rest runs.
counted_step() {
    local what=$1 pass_expr=$2 fail_expr=$3
    shift 3
    local step_log step_status step_passed step_failed
    step_log=$(mktemp)
    set +e
    "$@" 2>&1 | tee "$step_log"
    step_status=${PIPESTATUS[0]}
    set -e
    step_passed=$(sed -nE "$pass_expr" "$step_log" | tail -1)
    step_failed=$(sed -nE "$fail_expr" "$step_log" | tail -1)
    rm -f "$step_log"
    passed=$((passed + ${step_passed:-0}))
    if [ "$step_status" -ne 0 ]; then
        echo "$what failed (exit $step_status)" >&2
        failed=$((failed + ${step_failed:-0}))
        printf 'tests: %s passed, %s failed\n' "$passed" "$((failed > 0 ? failed : 1))"
        exit "$step_status"
    fi
}

log "web console unit tests (npm test in web/)"
counted_step "web console unit tests" 's/^# pass ([0-9]+)$/\1/p' 's/^# fail ([0-9]+)$/\1/p' bash -c 'cd web && npm test'

log "API fuzzing: schemathesis against docket serve as admin, agent and portal user (scripts/fuzz-api.sh)"
counted_step "API fuzzing" 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\1/p' 's/^fuzz: ([0-9]+) passed, ([0-9]+) failed$/\2/p' bash scripts/fuzz-api.sh

log "cfn-lint template.yaml"
cfn-lint template.yaml
echo "cfn-lint: template.yaml passed"
printf 'tests: %s passed, %s failed\n' "$passed" "$failed"
