#!/usr/bin/env bash
# Builds the studio image from the Dockerfile and checks that it works: the studio comes up healthy
# in a container, serves its page (and, with the dev venv, renders in headless Chromium), and the
# CLI stylizes an image in a container with no network. Prints a table of figures. Takes minutes
# and several GB of disk (torch from PyPI is the CUDA build), so it is not part of .ci/run.
#
#   bash bench/docker_check.sh
#
# Needs a Docker engine and, where no registry can be reached, debootstrap (Debian: apt-get
# install docker.io debootstrap). If the engine is not running, the script starts `dockerd
# --bridge=none --iptables=false` and stops it at the end. If `python:3.11-slim` cannot be had it
# builds a stand-in for it: Debian bookworm (Python 3.11) from debootstrap with a venv at /usr/local,
# so `python` and `pip` are on PATH as in the official image, and the host's CA bundle and pip cert
# setting, so pip works behind a TLS-inspecting proxy. The image is labelled nst.standin.
# Containers use the host's network with the studio bound to 127.0.0.1, or no network at all.
#
# Environment: NST_DOCKER_IMAGE (tag to build, default nst-studio:check), NST_DOCKER_NO_CACHE=1
# (build from scratch), NST_DOCKER_KEEP_IMAGE=0 (remove the image at the end),
# NST_DOCKER_ROOT (where the stand-in's root is made; removed once imported).
set -euo pipefail

if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then  # the comment above, as usage
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0
fi

cd "$(dirname "$0")/.."
IMAGE=${NST_DOCKER_IMAGE:-nst-studio:check}
BASE=python:3.11-slim
ROOT=${NST_DOCKER_ROOT:-/var/tmp/nst-docker-base}
HEALTH_TIMEOUT_S=180
WORK=$(mktemp -d /tmp/nst-docker-check.XXXXXX)
chmod 755 "$WORK"
DOCKERD_PID=""
CONTAINERS=()

log() { printf '[docker_check %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
# The IPv4 addresses listening on port $1, from a /proc/net/tcp table on stdin.
listening_on() {
    python3 -c '
import sys
port = int(sys.argv[1])
for line in sys.stdin.read().splitlines()[1:]:
    local, state = line.split()[1], line.split()[3]
    ip_hex, port_hex = local.split(":")
    if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
        print(".".join(str(int(ip_hex[i:i + 2], 16)) for i in (6, 4, 2, 0)))
' "$1"
}

cleanup() {
    local rc=$?
    for c in "${CONTAINERS[@]}"; do
        docker rm -f "$c" >/dev/null 2>&1 || true
    done
    if [[ "${NST_DOCKER_KEEP_IMAGE:-1}" == 0 ]]; then
        docker image rm -f "$IMAGE" >/dev/null 2>&1 || true
    fi
    # Layers of earlier builds of the same tag, left untagged by this one.
    docker image prune -f >/dev/null 2>&1 || true
    if [[ -n "$DOCKERD_PID" ]]; then
        log "stopping the dockerd this script started (pid $DOCKERD_PID)"
        kill "$DOCKERD_PID" 2>/dev/null || true
        wait "$DOCKERD_PID" 2>/dev/null || true
    fi
    if [[ $rc -ne 0 ]]; then
        log "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

command -v docker >/dev/null || die "no docker client (apt-get install docker.io)"
command -v python3 >/dev/null || die "no python3 on the host"

# --- the engine ------------------------------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || die "no Docker engine running and no dockerd (apt-get install docker.io)"
    log "starting dockerd (log: $WORK/dockerd.log)"
    # No bridge and no iptables rules: containers here use the host's network or none.
    dockerd --bridge=none --iptables=false >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 60); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited: $(tail -5 "$WORK/dockerd.log")"
        sleep 1
    done
    docker info >/dev/null 2>&1 || die "dockerd did not answer in 60 s"
fi

# --- the base image --------------------------------------------------------------------------
BASE_KIND="official"
BASE_S=""
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
    if timeout 120 docker pull "$BASE" >"$WORK/pull.log" 2>&1; then
        log "pulled $BASE"
    else
        command -v debootstrap >/dev/null || die "cannot pull $BASE and no debootstrap for a stand-in"
        log "no registry: building a stand-in for $BASE with debootstrap (log: $WORK/debootstrap.log)"
        t0=$(now)
        rm -rf "$ROOT"
        debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            bookworm "$ROOT" >"$WORK/debootstrap.log" 2>&1 || die "debootstrap: $(tail -5 "$WORK/debootstrap.log")"
        # The official image's python and pip live in /usr/local/bin.
        chroot "$ROOT" python3 -m venv /usr/local
        # The host's CA bundle (it may hold a TLS-inspecting proxy's CA) and the host's pip cert setting.
        cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/ca-certificates.crt"
        printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOT/etc/pip.conf"
        rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
        tar -C "$ROOT" -c . | docker import \
            --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'ENV LANG=C.UTF-8' \
            --change 'LABEL nst.standin=debootstrap-bookworm' \
            --change 'CMD ["python3"]' - "$BASE" >/dev/null
        rm -rf "$ROOT"
        BASE_S=$(since "$t0")
    fi
fi
if [[ -n "$(docker image inspect -f '{{index .Config.Labels "nst.standin"}}' "$BASE" 2>/dev/null)" ]]; then
    BASE_KIND="stand-in (debootstrap bookworm, $(docker run --rm --network none "$BASE" python --version 2>&1))"
fi
log "base: $BASE, $BASE_KIND"

# --- build -----------------------------------------------------------------------------------
log "building $IMAGE (log: $WORK/build.log)"
# Without the buildx plugin (Debian's docker.io has none) a newer client needs the classic builder.
docker buildx version >/dev/null 2>&1 || export DOCKER_BUILDKIT=0
build_args=(--network host -t "$IMAGE")
[[ "${NST_DOCKER_NO_CACHE:-0}" == 1 ]] && build_args+=(--no-cache)
t0=$(now)
docker build "${build_args[@]}" . >"$WORK/build.log" 2>&1 || die "docker build: $(tail -20 "$WORK/build.log")"
BUILD_S=$(since "$t0")
# Classic builder: "Step i/n" and "Using cache" (FROM is never "cached"); BuildKit: "CACHED".
STEPS=$(grep '^Step [0-9]' "$WORK/build.log" | grep -vc ' : FROM ' || true)
CACHED=$(grep -c -e '---> Using cache' -e ' CACHED' "$WORK/build.log" || true)
IMAGE_GB=$(docker image inspect -f '{{.Size}}' "$IMAGE" | python3 -c "import sys; print(f'{int(sys.stdin.read()) / 1e9:.2f}')")
log "built in $BUILD_S s, $IMAGE_GB GB"

# --- the studio in a container -----------------------------------------------------------------
PORT=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
URL="http://127.0.0.1:$PORT"
log "starting the studio on $URL"
t0=$(now)
# The port through the environment (the image's HEALTHCHECK reads it), the address as a flag
# after the image name: both override the image's 0.0.0.0:8501.
STUDIO=$(docker run -d --network host -e STREAMLIT_SERVER_PORT="$PORT" "$IMAGE" --server.address=127.0.0.1)
CONTAINERS+=("$STUDIO")
HEALTH_S=""
for _ in $(seq "$((HEALTH_TIMEOUT_S * 2))"); do
    if [[ "$(curl -s --max-time 2 "$URL/_stcore/health" || true)" == ok ]]; then
        HEALTH_S=$(since "$t0")
        break
    fi
    [[ "$(docker inspect -f '{{.State.Running}}' "$STUDIO")" == true ]] || die "the studio exited: $(docker logs --tail 20 "$STUDIO" 2>&1)"
    sleep 0.5
done
[[ -n "$HEALTH_S" ]] || die "no ok from $URL/_stcore/health in $HEALTH_TIMEOUT_S s: $(docker logs --tail 20 "$STUDIO" 2>&1)"
log "healthy after $HEALTH_S s"

# Bound to the loopback only, as asked on the command line (host network: the host sees it).
BOUND=$(listening_on "$PORT" </proc/net/tcp)
[[ "$BOUND" == 127.0.0.1 ]] || die "the studio listens on '$BOUND', not 127.0.0.1 only"

curl -sf --max-time 10 "$URL/" >"$WORK/index.html" || die "GET / failed"
grep -q '<div id="root">' "$WORK/index.html" || die "GET / is not Streamlit's page: $(head -c 300 "$WORK/index.html")"
PAGE_OK=yes

# The page itself: the app's script runs in the container and shows no error (needs the dev venv's
# Playwright and Chromium; skipped without them).
RENDER="skipped (no .venv with playwright, or no /usr/bin/chromium)"
if [[ -x .venv/bin/python && -x /usr/bin/chromium ]] && .venv/bin/python -c "import playwright" 2>/dev/null; then
    RENDER=$(.venv/bin/python - "$URL" <<'EOF'
import sys, time
from playwright.sync_api import sync_playwright
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, check_no_app_error, new_page, wait_for_app_idle

t0 = time.perf_counter()
with sync_playwright() as pw:
    browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    page = new_page(browser)
    page.goto(sys.argv[1])
    wait_for_app_idle(page, timeout=120_000)
    check_no_app_error(page)
    browser.close()
print(f"yes, {time.perf_counter() - t0:.1f} s")
EOF
) || die "the page did not render: $RENDER"
fi

# The image's own HEALTHCHECK (first probe 30 s after the start), with the port from the environment.
DOCKER_HEALTH=""
for _ in $(seq 90); do
    DOCKER_HEALTH=$(docker inspect -f '{{.State.Health.Status}}' "$STUDIO")
    [[ "$DOCKER_HEALTH" == starting ]] || break
    sleep 1
done
[[ "$DOCKER_HEALTH" == healthy ]] || die "docker reports the studio '$DOCKER_HEALTH'"
docker rm -f "$STUDIO" >/dev/null

# --- the image's default address, in a container with no network ------------------------------
DEFAULT=$(docker run -d --network none "$IMAGE")
CONTAINERS+=("$DEFAULT")
DEFAULT_BOUND=""
for _ in $(seq 120); do
    DEFAULT_BOUND=$(docker exec "$DEFAULT" cat /proc/net/tcp | listening_on 8501 || true)
    [[ -n "$DEFAULT_BOUND" ]] && break
    sleep 0.5
done
[[ "$DEFAULT_BOUND" == 0.0.0.0 ]] || die "with no flags the studio listens on '$DEFAULT_BOUND':8501, not 0.0.0.0"
docker rm -f "$DEFAULT" >/dev/null

# --- the CLI in a container, no network ------------------------------------------------------
mkdir -m 777 "$WORK/data"  # the image runs as uid 10001
python3 - "$WORK/data" <<'EOF'
"""Two small PNGs (a 96x72 content, a 80x80 style) with the standard library only."""
import struct, sys, zlib

def png(path, w, h, pixel):
    rows = b"".join(b"\0" + bytes(c for x in range(w) for c in pixel(x, y)) for y in range(h))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))

out = sys.argv[1]
png(f"{out}/c.png", 96, 72, lambda x, y: (x * 2, y * 3, 255 - x * 2 if (x // 12 + y // 12) % 2 else 60))
png(f"{out}/s.png", 80, 80, lambda x, y: (255 if (x + y) % 16 < 8 else 30, (x * y) % 256, 128))
EOF
log "running the CLI in a container with no network"
t0=$(now)
docker run --rm --network none -v "$WORK/data:/data" --entrypoint python "$IMAGE" \
    -m nst /data/c.png /data/s.png -o /data/out.png --size 64 --steps 5 >"$WORK/cli.log" 2>&1 \
    || die "the CLI run failed: $(tail -20 "$WORK/cli.log")"
CLI_S=$(since "$t0")
OUT_SIZE=$(python3 - "$WORK/data/out.png" <<'EOF'
import struct, sys
head = open(sys.argv[1], "rb").read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
print("%dx%d" % struct.unpack(">II", head[16:24]))
EOF
) || die "out.png is missing or not a PNG"
[[ "$OUT_SIZE" == 64x48 ]] || die "out.png is $OUT_SIZE, expected 64x48 (--size 64 of a 96x72 content)"

# --- docker-compose.yml parses ----------------------------------------------------------------
COMPOSE="not checked (no docker compose plugin or docker-compose)"
if docker compose version >/dev/null 2>&1; then
    docker compose -f docker-compose.yml config -q || die "docker compose config rejects docker-compose.yml"
    COMPOSE="parses (docker compose config)"
elif command -v docker-compose >/dev/null; then
    docker-compose -f docker-compose.yml config -q || die "docker-compose config rejects docker-compose.yml"
    COMPOSE="parses (docker-compose $(docker-compose version --short) config)"
fi

# --- results ---------------------------------------------------------------------------------
CPU="$(lscpu | sed -n 's/^Model name: *//p' | head -1) (model $(lscpu | sed -n 's/^Model: *//p' | head -1))"
cat <<EOF

Docker check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) x $CPU, load $(cut -d' ' -f1-3 /proc/loadavg)
engine $(docker version -f '{{.Server.Version}}'), base $BASE: $BASE_KIND${BASE_S:+, made in $BASE_S s}

| check | result |
| --- | --- |
| build (docker build --network host$([[ "${NST_DOCKER_NO_CACHE:-0}" == 1 ]] && echo ' --no-cache')) | $BUILD_S s ($CACHED of ${STEPS:-?} steps from the cache) |
| image size | $IMAGE_GB GB |
| studio: /_stcore/health ok after docker run | $HEALTH_S s |
| studio: listens on (-e STREAMLIT_SERVER_PORT, --server.address=127.0.0.1) | $BOUND:$PORT only |
| studio: listens on with no flags (--network none) | $DEFAULT_BOUND:8501 |
| studio: GET / is Streamlit's page | $PAGE_OK |
| studio: page renders with no error (headless Chromium) | $RENDER |
| studio: the image's HEALTHCHECK | $DOCKER_HEALTH |
| CLI --size 64 --steps 5, --network none | ok, $CLI_S s, out.png $OUT_SIZE |
| docker-compose.yml | $COMPOSE |
EOF
