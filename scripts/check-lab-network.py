#!/usr/bin/env python
"""Refuse a lab network that would clash with this machine's routes or Docker networks.

Runs before anything is created (Molecule's dependency step, so `make molecule` and `make lab`).
The lab's networks are those of .config/molecule/lab.env.yml and the environment
(scripts/lab_env.py); Molecule must run under scripts/lab_env.py, which sets every variable
.config/molecule/config.yml uses: a variable that is not set here was empty there.
"""

import ipaddress
import json
import os
import subprocess
import sys

import lab_env

FORBIDDEN = {
    "10.0.0.0/8": "a private range",
    "172.16.0.0/12": "a private range",
    "192.168.0.0/16": "a private range",
}


def host_routes():
    out = subprocess.run(["ip", "-json", "route", "show", "table", "all"],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        out = subprocess.run(["ip", "-json", "route"], capture_output=True, text=True, check=True)
    routes = []
    for route in json.loads(out.stdout or "[]"):
        dst = route.get("dst", "")
        if dst in ("default", "") or ":" in dst or route.get("type") in ("broadcast", "local", "multicast"):
            continue
        if "/" not in dst:
            dst += "/32"
        routes.append((ipaddress.ip_network(dst, strict=False), route.get("dev", "?")))
    return routes


def docker_networks():
    """Subnets of existing Docker networks, by name (empty when Docker is not running)."""
    try:
        names = subprocess.run(["docker", "network", "ls", "--format", "{{.Name}}"],
                               capture_output=True, text=True, check=True, timeout=30).stdout.split()
        if not names:
            return {}
        info = json.loads(subprocess.run(["docker", "network", "inspect"] + names,
                                         capture_output=True, text=True, check=True, timeout=30).stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}
    nets = {}
    for net in info:
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                nets.setdefault(net["Name"], []).append(ipaddress.ip_network(cfg["Subnet"]))
    return nets


def main():
    unset = [name for name in lab_env.defaults() if not os.environ.get(name, "").strip()]
    if unset:
        sys.stderr.write("Refusing to create the lab: %s not set, so Molecule's configuration has empty values;\n"
                         "run Molecule under scripts/lab_env.py (make molecule / make lab do), e.g.\n"
                         "  scripts/lab_env.py molecule test -s default\n" % ", ".join(unset))
        return 1
    try:
        topology = lab_env.resolve()
    except lab_env.LabEnvError as exc:
        sys.stderr.write("Refusing to create the lab: %s" % exc)
        return 1
    # lab_env.resolve() has checked that both are IPv4 networks.
    lab = {topology["LAB_NET_NAME"]: ipaddress.ip_network(topology["LAB_SUBNET"]),
           topology["LAB_OUTSIDE_NET_NAME"]: ipaddress.ip_network(topology["LAB_OUTSIDE_SUBNET"])}
    errors = []
    for name, net in lab.items():
        for forbidden, why in FORBIDDEN.items():
            if net.overlaps(ipaddress.ip_network(forbidden)):
                errors.append("lab network %s (%s) is inside %s (%s): use TEST-NET-2 (RFC 5737)" % (name, net, forbidden, why))
    dnets = docker_networks()
    for route_net, dev in host_routes():
        for name, net in lab.items():
            # The bridge Docker made for a lab network of an earlier run is not a clash.
            if net.overlaps(route_net) and not (name in dnets and route_net in dnets[name]):
                errors.append("lab network %s (%s) overlaps the host route %s via %s; pick another range "
                              "(set LAB_SUBNET / LAB_OUTSIDE_SUBNET)" % (name, net, route_net, dev))
    for dname, subnets in dnets.items():
        if dname in lab:
            continue
        for dsub in subnets:
            for name, net in lab.items():
                if net.overlaps(dsub):
                    errors.append("lab network %s (%s) overlaps the existing Docker network %r (%s): "
                                  "remove it (docker network rm %s) or pick another range" % (name, net, dname, dsub, dname))
    names = list(lab)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if lab[a].overlaps(lab[b]):
                errors.append("lab networks %s and %s overlap (%s, %s)" % (a, b, lab[a], lab[b]))
    if errors:
        sys.stderr.write("Refusing to create the lab:\n" + "".join("  - %s\n" % e for e in errors))
        return 1
    print("lab networks OK: " + ", ".join("%s=%s" % (n, s) for n, s in lab.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
