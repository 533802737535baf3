#!/usr/bin/env bash
# make bench: what a converge costs, from one lab to a class (docs/benchmark.md).
#
# Phases, each under the lab lock (/tmp/ops535-lab.lock, shared with Molecule and `make lab`),
# each starting with scripts/lab-cleanup.sh and removing its own containers at the end, so the
# lock is held for one phase at a time (a few minutes at most) and others get it in between:
#   single    one lab: site.yml fresh/re-run/--check, verify.yml; hand-written Investigation 1
#   class N   N labs (BENCH_CLASS_SIZES, default "1 5 10") converged with site.yml in one run
# then the table and build/bench/results.json.
#
# Needs: the venv and build/collections (make collection), the lab image (make images, which
# writes build/.lab-image; or LAB_IMAGE), a running Docker engine.
# Environment: BENCH_REPEAT (default 3), BENCH_CLASS_SIZES, BENCH_VERIFY_SIZES (default "1 10"),
# BENCH_RERUN_SIZES (class sizes that also get a no-change re-run; default none),
# BENCH_PHASES (default "single class"), LAB_LOCK (default /tmp/ops535-lab.lock).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${VENV:-$here/.venv}
lock=${LAB_LOCK:-/tmp/ops535-lab.lock}
phases=${BENCH_PHASES:-single class}
sizes=${BENCH_CLASS_SIZES:-1 5 10}
out=${BENCH_DIR:-$here/build/bench}

[ -x "$venv/bin/ansible-playbook" ] || { echo "ERROR: no ansible-playbook in $venv (run 'make venv')" >&2; exit 1; }
[ -e "$here/build/collections/ansible_collections/ops535/mail_security" ] \
  || { echo "ERROR: build/collections is missing (run 'make collection')" >&2; exit 1; }
command -v flock >/dev/null 2>&1 || { echo "ERROR: flock is missing (util-linux)" >&2; exit 1; }
export PATH="$venv/bin:$PATH"
export ANSIBLE_COLLECTIONS_PATH="$here/build/collections"
export BENCH_CLASS_SIZES=$sizes BENCH_DIR=$out
start=$SECONDS

cd "$here"
rm -rf "$out"
mkdir -p "$out"

phase() {
  echo "==> bench: waiting for the lab lock ($lock) for: $*"
  local waited=$SECONDS
  flock "$lock" "$venv/bin/python" "$here/bench/bench.py" "$@"
  echo "==> bench: $* done ($((SECONDS - waited)) s including the wait for the lock)"
}

for p in $phases; do
  case $p in
    single) phase single ;;
    class) for n in $sizes; do phase class "$n"; done ;;
    *) echo "ERROR: unknown phase $p (single, class)" >&2; exit 2 ;;
  esac
done
"$venv/bin/python" "$here/bench/bench.py" report
echo "==> make bench: $((SECONDS - start)) s"
