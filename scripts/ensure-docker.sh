#!/usr/bin/env bash
# Make sure a Docker engine answers: use a running one, otherwise install Debian's
# docker.io and start dockerd in the background (there may be no init system).
set -euo pipefail

log() { printf '==> %s\n' "$*"; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "no Docker engine is running and installing one needs root (run as root, or start Docker yourself and re-run)."
  command -v apt-get >/dev/null 2>&1 || die "no Docker engine is running and this is not a Debian/Ubuntu machine: install and start Docker, then re-run."
  log "installing the distribution's Docker engine (docker.io)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: cannot reach the package mirror to install docker.io."
  apt-get install -y -qq docker.io >/dev/null || die "apt-get install docker.io failed."
fi

# Keep the engine's own networks out of the private ranges and out of the lab's range.
if [ ! -s /etc/docker/daemon.json ]; then
  [ -w /etc ] || die "cannot write /etc/docker/daemon.json (need root)."
  mkdir -p /etc/docker
  cat > /etc/docker/daemon.json <<'JSON'
{"bip": "198.18.0.1/24", "default-address-pools": [{"base": "198.18.0.0/15", "size": 24}]}
JSON
fi

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  log "starting docker with systemctl"
  systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || die "dockerd is installed but not running, and starting it needs root."
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && { log "Docker engine is up"; exit 0; }
  sleep 1
done
die "the Docker engine did not start within 60 s; see /var/log/dockerd.log."
