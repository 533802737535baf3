#!/usr/bin/env bash
# Build the collection tarball and run Galaxy's import checks on it, offline.
#
#   1. `ansible-galaxy collection build --force` into build/ (the tarball is overwritten);
#   2. galaxy-importer on that tarball, configured by a config file written to
#      build/galaxy-importer/galaxy-importer.cfg (GALAXY_IMPORTER_CONFIG): it checks
#      MANIFEST/FILES.json, loads the plugin docs with ansible-doc, finds roles (each needs a
#      README) and playbooks, reads meta/runtime.yml's requires_ansible, looks for the
#      changelog, and runs ansible-lint (production profile, --offline) on the contents;
#   3. a short summary. The exit status is non-zero when the import fails or when the
#      importer reports any ERROR or WARNING (ansible-lint findings are WARNING lines in
#      the importer's log). The one warning that does not fail is the notice that
#      tests/sanity/ignore-*.txt files exist: their entries are reviewed with the sanity
#      tests. GALAXY_IMPORT_ALLOW_WARNINGS=1 turns warnings into a notice.
#
# Full log: build/galaxy-importer/importer.log; result: build/galaxy-importer/importer_result.json
# Environment: VENV (default .venv), GALAXY_IMPORT_ALLOW_WARNINGS (default 0).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
allow_warnings=${GALAXY_IMPORT_ALLOW_WARNINGS:-0}
log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

for tool in ansible-galaxy ansible-doc ansible-lint; do
  [ -x "$venv/bin/$tool" ] || die "$tool not found in $venv (run 'make venv')."
done
"$venv/bin/python" -c 'import galaxy_importer' 2>/dev/null \
  || die "galaxy-importer is not installed in $venv (run 'make venv')."
export PATH="$venv/bin:$PATH"
# The importer sets the collections path for ansible-doc and ansible-lint itself.
unset ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
start=$SECONDS

read -r ns name version < <("$venv/bin/python" - "$here/galaxy.yml" <<'EOF'
import sys, yaml
with open(sys.argv[1]) as fh:
    meta = yaml.safe_load(fh)
print(meta["namespace"], meta["name"], meta["version"])
EOF
)
out=$here/build
tarball=$out/$ns-$name-$version.tar.gz
work=$out/galaxy-importer
mkdir -p "$out"

# ------------------------------------------------------------------ build
log "ansible-galaxy collection build -> ${tarball#"$here"/}"
rm -f "$tarball"
ansible-galaxy collection build --force --output-path "$out" "$here" >/dev/null \
  || die "ansible-galaxy collection build failed."
[ -f "$tarball" ] || die "ansible-galaxy collection build did not produce $tarball."

# Nothing that git ignores (caches, build output, virtualenvs: .ansible/, .venv/, ...) may
# be shipped: such files would mean a gap in galaxy.yml's build_ignore.
files=$(tar -tzf "$tarball" | grep -v '/$' | grep -vxE 'MANIFEST\.json|FILES\.json' || true)
if git -C "$here" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  leaked=$(printf '%s\n' "$files" | git -C "$here" check-ignore --stdin || true)
else
  leaked=$(printf '%s\n' "$files" | grep -E '^(\.ansible|\.venv|build|\.git|\.cache|tests/output|\.pytest_cache)/|(^|/)__pycache__/|\.pyc$' || true)
fi
if [ -n "$leaked" ]; then
  printf '%s\n' "$leaked" | awk -F/ '{ d = (NF > 2 ? $1 "/" $2 "/" : $0); n[d]++ } END { for (d in n) printf "  %s (%d file(s))\n", d, n[d] }' | sort >&2
  printf 'ERROR: the tarball ships files that git ignores (above): add them to build_ignore in galaxy.yml.\n' >&2
fi

# ------------------------------------------------------------------ configure and import
rm -rf "$work"
mkdir -p "$work/tmp" "$work/ansible-home" "$work/ansible-tmp"
cat > "$work/galaxy-importer.cfg" <<EOF
[galaxy-importer]
# Written by scripts/galaxy-import.sh.
log_level_main = INFO
# plugin documentation through ansible-doc, as Galaxy renders it
run_ansible_doc = true
# ansible-lint (production profile) on the collection's contents, without network access
run_ansible_lint = true
offline_ansible_lint = true
# changelogs/changelog.yaml (or CHANGELOG.rst/.md) must exist
check_changelog = true
# The importer's ansible-test runs 'ansible-test sanity --docker', which needs a container
# registry; scripts/ansible-test-sanity.sh runs the sanity tests locally instead.
run_ansible_test = false
# flake8 is not part of Galaxy's import; the sanity tests run pep8 and pylint.
run_flake8 = false
check_required_tags = false
require_v1_or_greater = false
ansible_local_tmp = $work/ansible-tmp
tmp_root_dir = $work/tmp
EOF
export GALAXY_IMPORTER_CONFIG=$work/galaxy-importer.cfg
# ansible-lint --offline puts ANSIBLE_HOME/collections (default ~/.ansible/collections) first
# in the collections path. A copy of this collection installed there earlier (ansible-lint
# installs the project it lints, ansible-galaxy collection install, ...) would then be
# linted instead of the tarball's. A private, empty ANSIBLE_HOME rules that out.
export ANSIBLE_HOME=$work/ansible-home

log "galaxy-importer ${tarball#"$here"/} (ansible-lint production profile, offline)"
rc=0
(cd "$work" && python -m galaxy_importer.main "$tarball") > "$work/importer.log" 2>&1 || rc=$?
sed 's/^/    /' "$work/importer.log"

# ------------------------------------------------------------------ verdict and summary
ignore_notice='Ignore files skip ansible-test sanity tests'
errors=$(grep -c '^ERROR: ' "$work/importer.log" || true)
warnings=$(grep '^WARNING: ' "$work/importer.log" | grep -vc "$ignore_notice" || true)
notices=$(grep -c "^WARNING: $ignore_notice" "$work/importer.log" || true)
lint_ran=no
grep -q '^\.\.\.ansible-lint run complete' "$work/importer.log" && lint_ran=yes
completed=no
grep -q '^Importer processing completed successfully' "$work/importer.log" && completed=yes

"$venv/bin/python" - "$work/importer_result.json" "$tarball" "${tarball#"$here"/}" <<'EOF' || true
import collections, json, os, sys, tarfile
result_path, tarball, shown = sys.argv[1:4]
with tarfile.open(tarball) as tf:
    members = [m for m in tf.getmembers() if m.isfile()]
print("summary:")
print("  tarball:          %s (%d files, %.1f KiB)" % (shown, len(members),
                                                      os.path.getsize(tarball) / 1024))
if not os.path.exists(result_path):
    print("  importer result:  none (the import failed)")
    sys.exit(0)
with open(result_path) as fh:
    data = json.load(fh)
kinds = collections.Counter(c.get("content_type", "?") for c in data.get("contents", []))
print("  requires_ansible: %s" % data.get("requires_ansible"))
print("  contents:         %s" % (", ".join("%d %s" % (n, k) for k, n in sorted(kinds.items())) or "none"))
EOF
printf '  ansible-lint:     %s\n' "$([ "$lint_ran" = yes ] && echo ran || echo 'DID NOT RUN')"
printf '  errors: %s, warnings: %s%s, exit: %s, %s s\n' "$errors" "$warnings" \
  "$([ "$notices" -gt 0 ] && echo " (+ sanity ignore-file notice)")" "$rc" "$((SECONDS - start))"

fail=()
[ -z "$leaked" ] || fail+=("the tarball ships files that git ignores")
[ "$rc" -eq 0 ] || fail+=("galaxy-importer exited with $rc")
[ "$completed" = yes ] || fail+=("the import did not complete")
[ "$lint_ran" = yes ] || fail+=("ansible-lint did not run")
[ "$errors" -eq 0 ] || fail+=("$errors error(s)")
if [ "$warnings" -gt 0 ] && [ "$allow_warnings" != 1 ]; then
  fail+=("$warnings warning(s) (ansible-lint findings and Galaxy import warnings, listed above)")
fi
if [ ${#fail[@]} -gt 0 ]; then
  printf 'ERROR: galaxy import checks FAILED:' >&2
  printf ' %s;' "${fail[@]}" >&2
  printf '\n' >&2
  exit 1
fi
log "galaxy import checks: passed"
