#!/usr/bin/env bash
# Build the aidevbot image (and, with --postgres, the local PostgreSQL image) from this checkout.
#
#   deploy/local-image.sh [--postgres] [TAG]        # TAG defaults to localhost/aidevbot:dev
#   deploy/local-image.sh --base                    # only make sure a base exists; print its name
#
# Works with podman (default when installed) or docker (CONTAINER_ENGINE=docker). The Dockerfile's
# base is a build argument: python:3.11-slim when a registry is reachable, otherwise a Debian
# bookworm base made here once with debootstrap (localhost/bookworm-python, kept and reused).
# BASE_IMAGE=... picks a base explicitly; AIDEVBOT_LOCAL_BASE=1 skips the registry attempt.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
POSTGRES=0 BASE_ONLY=0
case "${1:-}" in --postgres) POSTGRES=1; shift ;; --base) BASE_ONLY=1; shift ;; esac
TAG=${1:-${AIDEVBOT_IMAGE:-localhost/aidevbot:dev}}
PG_TAG=${AIDEVBOT_PG_IMAGE:-localhost/aidevbot-postgres:dev}
LOCAL_BASE=localhost/bookworm-python:latest
ENGINE=${CONTAINER_ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
if [ "$ENGINE" = podman ] && [ -z "${CONTAINERS_CONF:-}" ] && [ "$(id -u)" = 0 ]; then
  export CONTAINERS_CONF="$ROOT/deploy/local/containers.conf"  # runc + cgroupfs, as on CI
fi
say() { echo "local-image: $*" >&2; }

mirror() {  # the Debian mirror apt is configured with here
  local m
  m=$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -1)
  [ -n "$m" ] || m=$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
                     | awk '{print $2}' | grep -v security | head -1)
  echo "${m:-http://deb.debian.org/debian}"
}

build_local_base() {
  command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install -y debootstrap"; exit 1; }
  local rootfs m
  rootfs=$(mktemp -d /var/tmp/bookworm-rootfs.XXXXXX)
  m=$(mirror)
  say "making $LOCAL_BASE with debootstrap from $m (about 2 minutes, once per machine)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$m" >&2
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | $ENGINE import --change 'CMD ["/bin/bash"]' - "$LOCAL_BASE" >&2
  rm -rf "$rootfs"
}

pick_base() {
  if [ -n "${BASE_IMAGE:-}" ]; then echo "$BASE_IMAGE"; return; fi
  if [ "${AIDEVBOT_LOCAL_BASE:-0}" != 1 ]; then
    if $ENGINE image exists docker.io/library/python:3.11-slim 2>/dev/null \
       || timeout 60 $ENGINE pull -q docker.io/library/python:3.11-slim >/dev/null 2>&1; then
      echo python:3.11-slim; return
    fi
    say "no registry base reachable; using $LOCAL_BASE"
  fi
  $ENGINE image exists "$LOCAL_BASE" 2>/dev/null || build_local_base
  echo "$LOCAL_BASE"
}

BASE=$(pick_base)
if [ "$BASE_ONLY" = 1 ]; then echo "$BASE"; exit 0; fi
# reach the package registries from inside the build: host network and this machine's CA bundle
BUILD_OPTS=(--network=host --build-arg "BASE_IMAGE=$BASE")
if [ "$ENGINE" = podman ]; then
  [ -f /etc/ssl/certs/ca-certificates.crt ] && \
    BUILD_OPTS+=(-v /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro)
  BUILD_OPTS+=(--layers)
fi
APP_OPTS=()  # docker reads deploy/Dockerfile.dockerignore by itself; podman 4 needs it named
[ "$ENGINE" = podman ] && APP_OPTS=(--ignorefile "$ROOT/deploy/Dockerfile.dockerignore")
# pip's index as configured on this host (env or pip.conf), when it is reachable from inside: http(s) only
pipconf() { local v="${!1:-}"; [ -n "$v" ] || v=$(python3 -m pip config get "global.$2" 2>/dev/null || true); echo "$v"; }
INDEX=$(pipconf PIP_INDEX_URL index-url)
EXTRA=$(pipconf PIP_EXTRA_INDEX_URL extra-index-url | tr ' ' '\n' | grep -E '^https?://' | paste -sd' ' || true)
case "$INDEX" in http://*|https://*) BUILD_OPTS+=(--build-arg "PIP_INDEX_URL=$INDEX") ;; esac
[ -n "$EXTRA" ] && BUILD_OPTS+=(--build-arg "PIP_EXTRA_INDEX_URL=$EXTRA")
say "building $TAG on $BASE with $ENGINE"
$ENGINE build "${BUILD_OPTS[@]}" "${APP_OPTS[@]}" -f "$ROOT/deploy/Dockerfile" -t "$TAG" "$ROOT" >&2
if [ "$POSTGRES" = 1 ]; then
  say "building $PG_TAG (Debian's postgresql) on $BASE"
  $ENGINE build "${BUILD_OPTS[@]}" -f "$ROOT/deploy/postgres/Dockerfile" -t "$PG_TAG" "$ROOT/deploy/postgres" >&2
fi
echo "$TAG"
