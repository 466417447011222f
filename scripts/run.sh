#!/usr/bin/env bash
# Runs Docket locally: installs node and npm when missing (the console is built from web/ by the
# docket crate's build script), then `docket serve` with any extra arguments (`--help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure.sh
ensure_node
exec cargo run -p docket -- serve "$@"
