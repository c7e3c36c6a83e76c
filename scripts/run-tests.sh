#!/usr/bin/env bash
# Runs the whole suite: type-check, build, then every test file with node's test runner.
# Starts a throwaway PostgreSQL cluster unless GATEHOUSE_TEST_PG_URL points at one.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
npx tsc -p test/tsconfig.json --noEmit
npx tsc -p ui/tsconfig.json --noEmit
if [ -z "${GATEHOUSE_TEST_PG_URL:-}" ]; then
  PGDIR=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
  trap 'bash scripts/pg-test.sh stop "$PGDIR"' EXIT
  GATEHOUSE_TEST_PG_URL=$(bash scripts/pg-test.sh start "$PGDIR" "${GATEHOUSE_TEST_PG_PORT:-55432}")
  export GATEHOUSE_TEST_PG_URL
fi
export GATEHOUSE_TEST_ARTIFACTS=${GATEHOUSE_TEST_ARTIFACTS:-$PWD/test-artifacts}
mkdir -p "$GATEHOUSE_TEST_ARTIFACTS"
files=("$@")
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find test -name '*.test.ts' | sort)
node --import tsx --test --test-reporter=spec --test-concurrency="${GATEHOUSE_TEST_CONCURRENCY:-2}" --test-timeout=600000 "${files[@]}"
