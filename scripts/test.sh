#!/usr/bin/env bash
# scripts/test.sh -- the project's whole check: testbed, lint, format, types, tests.
#
#   bash scripts/test.sh [extra pytest args...]
#
# As root it brings the real SLURM testbed up first (bash scripts/testbed.sh up) and exports
# its facts (SLURMPLAN_TESTBED_* from `testbed.sh env`, plus SLURMPLAN_TESTBED_UP=1) for the
# integration tests.  Not root and no testbed running: the integration tests skip -- except
# under CI=true, where a missing testbed is a failure.  Tools come from .venv/bin when it
# exists, else from PATH.  Every stage runs; the exit status is non-zero if any failed.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
exec </dev/null

IN_CI=0; [ "${CI:-}" = true ] && IN_CI=1
FAILED=()
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
T0=$(now_ms)
stage() { printf '\n=== %s\n' "$*"; }
note() { printf '[test] %s\n' "$*"; }
fail() { note "FAILED: $1${2:+ ($2)}"; FAILED+=("$1"); }
tool() {  # tool NAME -> path of NAME, preferring the project venv
  if [ -x ".venv/bin/$1" ]; then echo ".venv/bin/$1"
  elif command -v "$1" >/dev/null 2>&1; then command -v "$1"
  else return 1; fi
}
run_stage() {  # run_stage LABEL TOOL ARGS... -> runs the tool, records a failure
  local label=$1 name=$2 exe t rc; shift 2
  stage "$label"
  if ! exe=$(tool "$name"); then fail "$label" "$name not found: run .ci/run or pip install -e '.[test]'"; return; fi
  t=$(now_ms); "$exe" "$@"; rc=$?
  note "$label: exit $rc in $(( $(now_ms) - t )) ms"
  [ "$rc" = 0 ] || fail "$label" "exit $rc"
  return 0
}

# ------------------------------------------------------------------ testbed
stage "testbed"
export SLURMPLAN_TESTBED_UP=0
if [ "$(id -u)" = 0 ]; then
  if bash scripts/testbed.sh up; then SLURMPLAN_TESTBED_UP=1; else fail "testbed up" "see messages above"; fi
elif bash scripts/testbed.sh status; then
  SLURMPLAN_TESTBED_UP=1
elif [ "$IN_CI" = 1 ]; then
  fail "testbed" "CI=true, not root and the testbed is not up: integration tests cannot run"
else
  note "not root and the testbed is not up: integration tests will be skipped (run 'sudo bash scripts/testbed.sh up')"
fi
if [ "$SLURMPLAN_TESTBED_UP" = 1 ]; then
  if envsh=$(bash scripts/testbed.sh env); then
    eval "$envsh"   # export SLURMPLAN_TESTBED_DIR=... lines written by testbed.sh
  else
    SLURMPLAN_TESTBED_UP=0; fail "testbed env"
  fi
fi

# ------------------------------------------------------------------ static checks
run_stage "ruff check" ruff check .
run_stage "ruff format --check" ruff format --check .
run_stage "mypy --strict" mypy --strict slurmplan

# ------------------------------------------------------------------ tests
stage "pytest"
if exe=$(tool pytest); then
  t=$(now_ms); "$exe" -q tests property_tests "$@"; rc=$?
  note "pytest: exit $rc in $(( $(now_ms) - t )) ms"
  case "$rc" in
    0) ;;
    5) fail "pytest" "exit 5: no tests were collected" ;;
    *) fail "pytest" "exit $rc" ;;
  esac
else
  fail "pytest" "pytest not found: run .ci/run or pip install -e '.[test]'"
fi

# ------------------------------------------------------------------ summary
stage "summary ($(( ($(now_ms) - T0) / 1000 )) s)"
if [ ${#FAILED[@]} -gt 0 ]; then
  joined=$(IFS=,; echo "${FAILED[*]}")
  note "FAILED stages: ${joined//,/, }"
  exit 1
fi
note "all stages passed"
