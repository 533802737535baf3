#!/usr/bin/env bash
# Printed at the end of `make lab`.
cat <<'TXT'

The lab is running:
  vm1       198.51.100.1    BIND for the lab domain, other.example and the reverse zones
  vm2       198.51.100.2    client
  vm3       198.51.100.3    Postfix (also 198.51.100.131 on the outside network)
  stranger  198.51.100.66   client with no DNS name, inside mynetworks
  outsider  198.51.100.138  outsider.other.example, outside mynetworks

  a shell on a host:   make lab-shell HOST=vm2
  talk SMTP to vm3:    make lab-shell HOST=vm2, then: nc 198.51.100.3 25
  tear it down:        make lab-down
TXT
