#!/usr/bin/env bash
# Command 2 of the README: install everything the tests need, then run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm install --no-audit --no-fund
bash scripts/run-tests.sh
