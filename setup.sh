#!/usr/bin/env bash
# Sets this project up on a fresh Debian or Ubuntu machine with Python 3.11 or newer, in .venv:
#   bash setup.sh                 the studio and the CLI
#   bash setup.sh --dev           also the test tools, and Debian's Chromium for the browser tests
#   NST_TORCH=cpu bash setup.sh   the CPU-only build of the same torch (no CUDA libraries)
# Debian packages (python3-venv, chromium) are installed only when missing: as root, or with sudo.
set -euo pipefail
cd "$(dirname "$0")"

dev=0
[ "${1:-}" = "--dev" ] && dev=1

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else echo "setup.sh: '$*' needs root (or sudo)" >&2; exit 1
    fi
}

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup.sh: Python 3.11 or newer is needed, found $(python3 --version 2>&1)" >&2; exit 1; }

missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)  # Debian splits venv out
if [ "$dev" = 1 ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ "${#missing[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
if [ "${NST_TORCH:-}" = cpu ]; then  # first, so requirements.txt finds its torch pin already met
    .venv/bin/python -m pip install -q -r requirements-cpu.txt
fi
if [ "$dev" = 1 ]; then
    .venv/bin/python -m pip install -q -r requirements-dev.txt
else
    .venv/bin/python -m pip install -q -r requirements.txt
fi
