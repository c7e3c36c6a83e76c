#!/usr/bin/env bash
# Runs the whole suite: type-check, build, then every test file with node's test runner.
# Starts a throwaway PostgreSQL cluster unless GATEHOUSE_TEST_PG_URL points at one.
set -euo pipefail
cd "$(dirname "$0")/.."
# The API tests use Fastify's inject(), which loads the cookie library (an ES module) with
# require(): Node 20.19 or newer (22.12 on Node 22). Said here rather than as ERR_REQUIRE_ESM in most tests.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit((a===20&&b>=19)||(a===22&&b>=12)||a>22?0:1)'; then
  echo "the test suite needs Node 20.19+ or 22.12+ (this is $(node -v))" >&2
  exit 1
fi
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
