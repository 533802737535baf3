#!/usr/bin/env bash
# Remove lab containers and networks left by an earlier run (stopped containers survive
# an engine restart), so a new lab never fails on a name or subnet clash.
set -euo pipefail
# Benchmark labs (bench/) carry their own label and use the same address range.
ids=$(docker ps -aq --filter label=ops535.lab=true; docker ps -aq --filter label=ops535.bench=true)
if [ -n "$ids" ]; then
  echo "==> removing lab containers left from an earlier run"
  # shellcheck disable=SC2086 # one id per word
  docker rm -f $ids >/dev/null
fi
nets=$(docker network ls -q --filter label=ops535.lab=true; docker network ls -q --filter label=ops535.bench=true)
# The lab's network names: .config/molecule/lab.env.yml, or the environment's.
lab_env=$(python3 "$(dirname "$0")/lab_env.py" --export)
eval "$lab_env"
for name in "$LAB_NET_NAME" "$LAB_OUTSIDE_NET_NAME"; do
  docker network inspect "$name" >/dev/null 2>&1 && nets="$nets $name"
done
if [ -n "${nets// /}" ]; then
  # shellcheck disable=SC2086 # one name per word
  docker network rm $nets >/dev/null 2>&1 || true
fi
