#!/usr/bin/env bash
# `npm test`: the whole test suite, runnable on a fresh clone (installs what it needs itself).
# Stages, in order, stopping at the first failure:
#   0. setup      node_modules (npm ci), Debian chromium (apt-get, needs root), training/.venv (pip)
#   1. lint       scripts/lint.sh: Biome (TS/JS format + lint) and Ruff (Python lint + format), check only; fast
#   2. typecheck  tsc --noEmit
#   3. kernels    Vitest (tests/**/*.test.ts) in Node on Dawn + SwiftShader
#   4. training   pytest in training/
#   5. e2e        Playwright in headless Debian Chromium (WebGPU on SwiftShader)
# The last line is always the plain summary `N passed, M failed` (tests counted by the runners' own reports;
# a failing non-test stage such as setup, lint or typecheck counts as one failure). CI judges by that line.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PASSED=0
FAILED=0
REPORTS=$(mktemp -d)
SUMMARISED=0
summary() {
  SUMMARISED=1
  echo "$PASSED passed, $FAILED failed"
}
# Any unexpected exit (a command failing under set -e) still ends with the summary line, as a failure.
on_exit() {
  local rc=$?
  rm -rf "$REPORTS"
  if [[ $SUMMARISED -eq 0 ]]; then
    echo "test.sh: stopped unexpectedly (exit $rc)" >&2
    FAILED=$((FAILED + 1))
    summary
  fi
}
trap on_exit EXIT
stage() { printf '\n==> %s\n' "$*"; }
# fail STAGE MESSAGE: a non-test stage failed (counts as one failure), or a runner reported failures.
fail() {
  local what=$1 msg=$2 count=${3:-1}
  FAILED=$((FAILED + count))
  printf '\ntest.sh: FAILED in %s: %s\n' "$what" "$msg" >&2
  summary
  exit 1
}
# add_counts "P F": adds a runner's parsed counts to the totals.
add_counts() {
  local p f
  read -r p f <<<"$1"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
}

# ---------------------------------------------------------------- 0. setup
stage "setup"
if [[ ! -d node_modules ]]; then
  echo "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund || fail setup "npm ci failed"
fi
if [[ ! -x /usr/bin/chromium ]]; then
  [[ $(id -u) -eq 0 ]] || fail setup "/usr/bin/chromium is missing; run as root or: sudo apt-get install -y chromium"
  echo "installing Debian chromium (apt-get)…"
  { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; } </dev/null ||
    fail setup "apt-get install chromium failed"
fi
[[ -f /usr/lib/chromium/vk_swiftshader_icd.json ]] ||
  fail setup "/usr/lib/chromium/vk_swiftshader_icd.json is missing (Debian chromium ships it; reinstall chromium)"

REQ=training/requirements.txt
if [[ ! -f $REQ ]]; then
  # training/ owns this file; this default only bootstraps a clone that lacks it.
  printf 'torch==2.13.0\nnumpy\npytest\nsafetensors\npillow\n' >"$REQ"
fi
VENV=training/.venv
PY=$VENV/bin/python
if [[ ! -x $PY ]]; then
  echo "creating $VENV…"
  python3 -m venv "$VENV" || fail setup "python3 -m venv $VENV failed"
fi
# Reinstall only when requirements.txt changed since the last successful install.
REQ_HASH=$(sha256sum "$REQ" | cut -d' ' -f1)
STAMP=$VENV/.requirements.sha256
if [[ ! -f $STAMP || $(cat "$STAMP") != "$REQ_HASH" ]]; then
  echo "installing $REQ into $VENV…"
  "$PY" -m pip install -q -r "$REQ" || fail setup "pip install -r $REQ failed"
  echo "$REQ_HASH" >"$STAMP"
fi

# ---------------------------------------------------------------- 1. lint
stage "lint (Biome + Ruff; fix with: npm run format)"
bash scripts/lint.sh || fail lint "lint findings above (npm run format applies the formatters and safe fixes)"

# ---------------------------------------------------------------- 2. typecheck
stage "typecheck (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json || fail typecheck "TypeScript errors above"

# ---------------------------------------------------------------- 3. kernel tests (Vitest on Dawn/SwiftShader)
stage "kernel tests (Vitest, Dawn on SwiftShader)"
VJSON=$REPORTS/vitest.json
set +e
bash scripts/with-swiftshader.sh npx vitest run --passWithNoTests \
  --reporter=default --reporter=json --outputFile.json="$VJSON"
VRC=$?
set -e
[[ -f $VJSON ]] || fail vitest "vitest exited $VRC without writing its JSON report"
COUNTS=$(node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  // Suites that failed to load count as failures even when they hold no counted tests.
  const badSuites = (r.testResults || []).filter((s) => s.status === "failed" && (s.assertionResults || []).length === 0).length;
  console.log(r.numPassedTests, r.numFailedTests + badSuites);' "$VJSON")
add_counts "$COUNTS"
read -r VP VF <<<"$COUNTS"
echo "vitest: $VP passed, $VF failed"
if [[ $VRC -ne 0 || $VF -ne 0 ]]; then
  [[ $VF -gt 0 ]] || fail vitest "vitest exited $VRC"
  fail vitest "$VF test(s) failed" 0
fi

# ---------------------------------------------------------------- 4. training tests (pytest)
stage "training tests (pytest)"
PXML=$REPORTS/pytest.xml
set +e
(cd training && "$ROOT/$PY" -m pytest -q --junitxml="$PXML")
PRC=$?
set -e
if [[ $PRC -eq 5 ]]; then
  # pytest's 5 = collected nothing: fine only when there are truly no test files.
  if find training -path training/.venv -prune -o \( -name 'test_*.py' -o -name '*_test.py' \) -print | grep -q .; then
    fail pytest "pytest collected no tests, but test files exist under training/ (collection or config problem)"
  fi
  echo "pytest: no tests in training/"
else
  [[ -f $PXML ]] || fail pytest "pytest exited $PRC without writing its JUnit report"
  COUNTS=$("$PY" - "$PXML" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
tests = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
skipped = sum(int(s.get("skipped", 0)) for s in suites)
print(tests - bad - skipped, bad)
PYEOF
  )
  add_counts "$COUNTS"
  read -r PP PF <<<"$COUNTS"
  echo "pytest: $PP passed, $PF failed"
  if [[ $PRC -ne 0 ]]; then
    [[ $PF -gt 0 ]] || fail pytest "pytest exited $PRC"
    fail pytest "$PF test(s) failed" 0
  fi
fi

# ---------------------------------------------------------------- 5. browser tests (Playwright)
stage "browser tests (Playwright, headless Debian Chromium)"
PWJSON=playwright-report/results.json
rm -f "$PWJSON"
set +e
npx playwright test
WRC=$?
set -e
[[ -f $PWJSON ]] || fail playwright "playwright exited $WRC without writing $PWJSON"
COUNTS=$(node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stats || {};
  // flaky = failed once, then passed on retry: counted as passed (Playwright itself exits 0 for it).
  console.log((s.expected || 0) + (s.flaky || 0), s.unexpected || 0);' "$PWJSON")
add_counts "$COUNTS"
read -r WP WF <<<"$COUNTS"
echo "playwright: $WP passed, $WF failed"
if [[ $WRC -ne 0 ]]; then
  [[ $WF -gt 0 ]] || fail playwright "playwright exited $WRC"
  fail playwright "$WF test(s) failed" 0
fi

echo
echo "all stages passed"
summary
