#!/usr/bin/env bash
# Debian packages the test harness needs on this machine: postconf (unit tests of the
# postconf module), named-checkzone (zone unit tests), dig, debootstrap, rsync.
set -euo pipefail
need=()
command -v postconf >/dev/null 2>&1 || need+=(postfix)
command -v named-checkzone >/dev/null 2>&1 || need+=(bind9-utils)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ERROR: missing tools: ${need[*]} (install these Debian packages as root)" >&2
  exit 1
fi
echo "==> installing host packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# postfix's postinst asks questions: no configuration, nothing started.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
