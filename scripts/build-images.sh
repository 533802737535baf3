#!/usr/bin/env bash
# Build the lab images locally (no registry is needed): a Debian 12 root made with
# debootstrap, imported, then images/debian12/Dockerfile on top of it.
# Images are tagged by a hash of their recipe, so a second run skips the build.
# Prints the final image reference on stdout (progress goes to stderr).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

recipe_hash() { cat "$@" | sha256sum | cut -c1-12; }

base_hash=$(printf '%s %s\n' "$suite" "$mirror" | cat - "$here/scripts/build-images.sh" | sha256sum | cut -c1-12)
base_ref="ops535-debian12-base:$base_hash"
image_hash=$(printf '%s\n' "$base_ref" | cat - "$here/images/debian12/Dockerfile" | sha256sum | cut -c1-12)
image_ref="ops535-debian12-systemd:$image_hash"

if docker image inspect "$image_ref" >/dev/null 2>&1; then
  log "image $image_ref is up to date (cached)"
  echo "$image_ref"; exit 0
fi

if ! docker image inspect "$base_ref" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "debootstrap is missing and installing it needs root."
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; } \
      || die "cannot install debootstrap."
  fi
  root=$(mktemp -d /var/tmp/ops535-rootfs.XXXXXX)
  trap 'rm -rf "$root"' EXIT
  log "debootstrap $suite from $mirror (about a minute)"
  debootstrap --variant=minbase --include=python3,ca-certificates "$suite" "$root" "$mirror" \
    | awk '/^I: (Retrieving|Validating|Extracting|Installing|Configuring) /{n++; if (n % 40 == 0) printf "." > "/dev/stderr"} END{print "" > "/dev/stderr"}' \
    || die "debootstrap failed (is $mirror reachable?)"
  log "importing $base_ref"
  tar -C "$root" -c . | docker import - "$base_ref" >/dev/null
  rm -rf "$root"; trap - EXIT
fi

log "building $image_ref"
docker build --build-arg "BASE_IMAGE=$base_ref" -t "$image_ref" \
  -f "$here/images/debian12/Dockerfile" "$here/images/debian12" >&2 \
  || die "docker build of the lab image failed"
docker tag "$image_ref" ops535-debian12-systemd:latest
echo "$image_ref"
