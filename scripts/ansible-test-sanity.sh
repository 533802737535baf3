#!/usr/bin/env bash
# Run `ansible-test sanity` on this collection, offline, with the project's venv.
#
# ansible-test only works from a directory .../ansible_collections/<namespace>/<name>/
# (it uses the physical working directory, so a symlink to the repository does not do).
# This script therefore keeps a copy of the collection in
#   build/ansible_collections/<namespace>/<name>/
# made of the files git shows in the work tree (tracked files plus new files that are not
# ignored: what the next commit would hold), refreshed on every run (changed files are
# rewritten, removed ones deleted), and runs ansible-test there. Findings are reported
# with paths relative to the collection root, i.e. the same paths as in the repository.
#
# Offline operation:
#   * Each sanity test runs in its own virtualenv under ~/.ansible/test/venv/ (reused on the
#     next run). ansible-test creates it without pip and bootstraps pip by downloading a
#     get-pip script from a CI host of the Ansible project, which is not reachable here.
#     ansible-test looks for that script in ~/.ansible/test/cache/get_pip_<version>.py first,
#     so this script puts a small stand-in there: it installs the pip that the Python
#     interpreter bundles (`python -m ensurepip`) and then the pip version ansible-test asked
#     for from the package index (PyPI is reachable). A real get-pip script already in the
#     cache is left alone.
#   * The test requirements themselves (pylint, yamllint, voluptuous, ...) are pinned by
#     ansible-test and installed from PyPI into those per-test virtualenvs, once.
#   * `--local` runs ansible-test itself with the project's venv (ansible-core 2.19 is
#     there already); `--docker` would need a registry, `--venv` would only add a second
#     controller virtualenv to bootstrap. `--requirements` is not passed: it would install
#     ansible-test's pins into the project's venv, over requirements.txt.
#
# Usage: scripts/ansible-test-sanity.sh [extra ansible-test sanity options, e.g. --test pep8]
# Environment: VENV (default .venv), SANITY_PYTHON (default 3.11).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
python_version=${SANITY_PYTHON:-3.11}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

[ -x "$venv/bin/ansible-test" ] || die "ansible-test not found in $venv (run 'make venv')."
command -v git >/dev/null 2>&1 || die "git is required (to list the collection's files)."
export PATH="$venv/bin:$PATH"
start=$SECONDS

# ------------------------------------------------------------------ the collection copy
read -r ns name < <("$venv/bin/python" - "$here/galaxy.yml" <<'EOF'
import sys, yaml
with open(sys.argv[1]) as fh:
    meta = yaml.safe_load(fh)
print(meta["namespace"], meta["name"])
EOF
)
dest=$here/build/ansible_collections/$ns/$name
mkdir -p "$dest"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C  # one byte order for sort and comm

# Files of the work tree (tracked + untracked-but-not-ignored), minus deleted ones.
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git -C "$here" ls-files -z --cached --others --exclude-standard
else
  # not a git checkout (e.g. an unpacked archive): everything but the usual build output
  (cd "$here" && find . \( -path ./.git -o -path ./.venv -o -path ./build -o -path ./.cache \
      -o -path ./tests/output -o -name __pycache__ -o -name .pytest_cache \) -prune \
      -o \( -type f -o -type l \) -printf '%P\0')
fi | while IFS= read -r -d '' f; do
  case $f in build/*) continue ;; esac
  if [ -e "$here/$f" ] || [ -L "$here/$f" ]; then printf '%s\0' "$f"; fi
done | sort -zu > "$tmp/want"

# Delete what is no longer in the work tree (before extracting, so that a file that
# became a directory, or the reverse, cannot get in the way), then copy.
(cd "$dest" && find . \( -path ./.git -o -path ./tests/output \) -prune \
    -o \( -type f -o -type l \) -printf '%P\0') | sort -zu > "$tmp/have"
stale=$(comm -z -23 "$tmp/have" "$tmp/want" | tr '\0' '\n' | grep -c . || true)
comm -z -23 "$tmp/have" "$tmp/want" | (cd "$dest" && xargs -0 -r rm -f --)
find "$dest" -mindepth 1 -depth -type d -empty \
  -not -path "$dest/.git" -not -path "$dest/.git/*" -delete
tar -C "$here" --null --verbatim-files-from -T "$tmp/want" -cf - | tar -C "$dest" -xf -
log "collection copy: $dest ($(tr -cd '\0' < "$tmp/want" | wc -c) files, $stale stale removed)"

# ansible-test finds the collection's files with git when a .git is at, or ABOVE, the
# collection root. Above it is the project's own repository, where build/ is ignored, so
# ansible-test would see no file at all. An empty repository in the copy stops that walk
# (its files are all "untracked, not ignored" there, which is what ansible-test lists).
if [ ! -e "$dest/.git" ]; then
  git -C "$dest" -c init.defaultBranch=main init -q
fi

# ------------------------------------------------------------------ offline pip bootstrap
pip_version=$("$venv/bin/python" - "$python_version" <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))["pip"])
EOF
)
cache_dir=$HOME/.ansible/test/cache
standin=$cache_dir/get_pip_${pip_version//./_}.py
marker='# ops535 offline stand-in for get-pip'
mkdir -p "$cache_dir"
cat > "$tmp/get_pip.py" <<EOF
$marker (written by scripts/ansible-test-sanity.sh).
"""Install pip into the virtualenv running this script, without the get-pip download.

ansible-test runs this file as the get-pip bootstrap (arguments: pip options and the
pinned packages, e.g. pip==$pip_version, plus --no-setuptools/--no-wheel). It installs the
pip bundled with the interpreter (ensurepip), then the pinned pip from the package index.
"""
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    no_setuptools = '--no-setuptools' in argv
    args = [a for a in argv if a not in ('--no-setuptools', '--no-wheel')]
    proc = subprocess.run([sys.executable, '-m', 'ensurepip', '--default-pip'],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        sys.exit('ensurepip failed for %s: this Python has no bundled pip (on Debian/Ubuntu '
                 'install the python3.X-venv package).' % sys.executable)
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, check=True)
    if no_setuptools:
        # get-pip leaves setuptools out when asked to; ensurepip installed it
        subprocess.run([sys.executable, '-m', 'pip', 'uninstall', '--yes', '--quiet',
                        'setuptools'], check=False)


if __name__ == '__main__':
    main()
EOF
if [ ! -e "$standin" ]; then
  cp "$tmp/get_pip.py" "$standin"
  log "pip bootstrap: wrote the offline stand-in $standin"
elif [[ "$(head -n1 "$standin")" == "$marker"* ]]; then
  cmp -s "$tmp/get_pip.py" "$standin" || cp "$tmp/get_pip.py" "$standin"
else
  log "pip bootstrap: using the existing $standin"
fi

# ------------------------------------------------------------------ which tests
# All default sanity tests run, except those named here, each with its reason:
skip=(
  # pslint needs PowerShell and PSScriptAnalyzer, which come from Microsoft's package
  # repository and the PowerShell Gallery: neither is reachable offline. The collection
  # ships no PowerShell, so the test would have nothing to check anyway.
  --skip-test pslint
)
# The "shellcheck" test checks the shell scripts (scripts/*.sh). ansible-test only warns and
# passes when the program is missing, so make sure it is there; skip loudly if it cannot be had.
if ! command -v shellcheck >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  log "installing shellcheck (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends shellcheck >/dev/null 2>&1 \
    || { apt-get update -qq && apt-get install -y -qq --no-install-recommends shellcheck >/dev/null; } \
    || true
fi
if ! command -v shellcheck >/dev/null 2>&1; then
  printf 'WARNING: shellcheck is not installed and could not be installed: the "shellcheck" sanity test is SKIPPED (install the shellcheck package to run it).\n' >&2
  skip+=(--skip-test shellcheck)
fi

# ------------------------------------------------------------------ run
# ansible-test sets ANSIBLE_COLLECTIONS_PATH itself (to build/); do not pass the caller's.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
cd "$dest"
log "ansible-test sanity --local --python $python_version ${skip[*]} $*"
rc=0
ansible-test sanity --local --python "$python_version" "${skip[@]}" "$@" || rc=$?
if [ "$rc" -eq 0 ]; then
  log "ansible-test sanity: passed ($((SECONDS - start)) s)"
else
  printf 'ERROR: ansible-test sanity failed (exit %s, %s s); findings are listed above, paths relative to the repository root. Results: %s/tests/output/\n' \
    "$rc" "$((SECONDS - start))" "${dest#"$here"/}" >&2
fi
exit "$rc"
