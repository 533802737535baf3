#!/usr/bin/env bash
# Printed at the end of `make lab`: the lab's addresses (.config/molecule/lab.env.yml, or the
# environment's overrides, as scripts/lab_env.py resolves them for Molecule).
set -euo pipefail
lab_env=$(python3 "$(dirname "$0")/lab_env.py" --export)
eval "$lab_env"
cat <<TXT

The lab is running:
  vm1       $(printf '%-15s' "$LAB_VM1_ADDRESS") BIND for $LAB_DOMAIN, $LAB_OTHER_DOMAIN and the reverse zones
  vm2       $(printf '%-15s' "$LAB_VM2_ADDRESS") client
  vm3       $(printf '%-15s' "$LAB_VM3_ADDRESS") Postfix (also $LAB_VM3_OUTSIDE_ADDRESS on the outside network)
  stranger  $(printf '%-15s' "$LAB_STRANGER_ADDRESS") client with no DNS name, inside mynetworks ($LAB_SUBNET)
  outsider  $(printf '%-15s' "$LAB_OUTSIDER_ADDRESS") outsider.$LAB_OTHER_DOMAIN, outside mynetworks

  a shell on a host:   make lab-shell HOST=vm2
  talk SMTP to vm3:    make lab-shell HOST=vm2, then: nc $LAB_VM3_ADDRESS 25
  tear it down:        make lab-down
TXT
