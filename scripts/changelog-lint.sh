#!/usr/bin/env bash
# Validate the antsibull-changelog data of the collection:
#   - every fragment in changelogs/fragments/ (known section, valid YAML, list of strings),
#   - changelogs/config.yaml (loaded by both commands),
#   - changelogs/changelog.yaml (the release history; strict schema check).
# Runs offline. Exit status: 0 when all is valid, non-zero otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

tool=$venv/bin/antsibull-changelog
[ -x "$tool" ] || tool=$(command -v antsibull-changelog) \
  || die "antsibull-changelog not found (expected $venv/bin/antsibull-changelog: run 'make venv')."
[ -f "$here/changelogs/config.yaml" ] || die "changelogs/config.yaml is missing."
[ -f "$here/changelogs/changelog.yaml" ] || die "changelogs/changelog.yaml is missing."

cd "$here"
rc=0
n=$(find changelogs/fragments -maxdepth 1 -type f \( -name '*.yml' -o -name '*.yaml' \) 2>/dev/null | wc -l)
echo "antsibull-changelog lint: $n fragment(s) in changelogs/fragments/"
"$tool" lint || rc=1
echo "antsibull-changelog lint-changelog-yaml --strict changelogs/changelog.yaml"
"$tool" lint-changelog-yaml --strict changelogs/changelog.yaml || rc=1

if [ "$rc" -eq 0 ]; then
  echo "changelog: OK"
else
  echo "changelog: FAILED (see the messages above: path:line:column: problem)" >&2
fi
exit "$rc"
