#!/usr/bin/env python
"""The lab-in-a-box topology: .config/molecule/lab.env.yml, completed by the environment.

The file holds every address, network and domain of the Molecule lab as environment variables
with their defaults; a variable set (and not empty) in the environment wins. This module is
the one reader of that file (stdlib only: it runs before any virtualenv exists, too):

  scripts/lab_env.py molecule test -s default   run a command with the lab's variables set
  eval "$(scripts/lab_env.py --export)"         the same for a shell script
  scripts/lab_env.py --check                    only check the topology (exit 1 naming the fault)

Python callers (molecule/conftest.py, scripts/check-lab-network.py, bench/bench.py) use
resolve() for the variables and lab() for short names (vm1, subnet, outside_gateway, ...).
"""

import ipaddress
import os
import re
import shlex
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(REPO, ".config", "molecule", "lab.env.yml")

# Where each address of the topology must be: (variable, network variable, inside?).
PLACEMENT = (
    ("LAB_GATEWAY", "LAB_SUBNET", True),
    ("LAB_VM1_ADDRESS", "LAB_SUBNET", True),
    ("LAB_VM2_ADDRESS", "LAB_SUBNET", True),
    ("LAB_VM3_ADDRESS", "LAB_SUBNET", True),
    ("LAB_STRANGER_ADDRESS", "LAB_SUBNET", True),
    ("LAB_OUTSIDE_GATEWAY", "LAB_OUTSIDE_SUBNET", True),
    ("LAB_VM3_OUTSIDE_ADDRESS", "LAB_OUTSIDE_SUBNET", True),
    ("LAB_OUTSIDER_ADDRESS", "LAB_OUTSIDE_SUBNET", True),
    # Not a container: only has to be outside mynetworks (verify.yml refuses it otherwise).
    ("LAB_NAMELESS_ADDRESS", "LAB_SUBNET", False),
)
NETWORKS = ("LAB_SUBNET", "LAB_OUTSIDE_SUBNET")
NAMES = ("LAB_DOMAIN", "LAB_OTHER_DOMAIN", "LAB_NET_NAME", "LAB_OUTSIDE_NET_NAME")
REQUIRED = NAMES + NETWORKS + tuple(name for name, dummy, dummy2 in PLACEMENT)

_LINE = re.compile(r"^([A-Z][A-Z0-9_]*):[ \t]*(.*?)[ \t]*(?:[ \t]#.*)?$")


class LabEnvError(Exception):
    """The topology file or an override is not a lab that can exist."""


def defaults(path=SOURCE):
    """The file's variables and values, in file order (flat `KEY: value` lines)."""
    values = {}
    with open(path) as handle:
        for number, line in enumerate(handle, 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped == "---":
                continue
            match = _LINE.match(stripped)
            if not match:
                raise LabEnvError("%s:%d: not a 'LAB_NAME: value' line: %r" % (path, number, stripped))
            name, value = match.group(1), match.group(2)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            if name in values:
                raise LabEnvError("%s:%d: %s is set twice" % (path, number, name))
            values[name] = value
    missing = [name for name in REQUIRED if not values.get(name)]
    if missing:
        raise LabEnvError("%s: no value for %s" % (path, ", ".join(missing)))
    return values


def resolve(environ=None, path=SOURCE):
    """The file's variables, each replaced by the environment's value when that is set and not
    empty; checked: every address in (or outside) its network, no address twice."""
    environ = os.environ if environ is None else environ
    values = defaults(path)
    for name in values:
        if environ.get(name, "").strip():
            values[name] = environ[name].strip()
    check(values)
    return values


def check(values):
    errors = []
    nets = {}
    for name in NETWORKS:
        try:
            nets[name] = ipaddress.IPv4Network(values[name])
        except ValueError as exc:
            errors.append("%s=%s is not an IPv4 network (%s)" % (name, values[name], exc))
    if len(nets) == 2 and nets["LAB_SUBNET"].overlaps(nets["LAB_OUTSIDE_SUBNET"]):
        errors.append("LAB_SUBNET=%s and LAB_OUTSIDE_SUBNET=%s overlap"
                      % (values["LAB_SUBNET"], values["LAB_OUTSIDE_SUBNET"]))
    seen = {}
    for name, net_name, inside in PLACEMENT:
        try:
            address = ipaddress.IPv4Address(values[name])
        except ValueError:
            errors.append("%s=%s is not an IPv4 address" % (name, values[name]))
            continue
        if address in seen:
            errors.append("%s and %s are both %s" % (seen[address], name, address))
        seen[address] = name
        net = nets.get(net_name)
        if net is None:
            continue
        if inside and (address not in net or address in (net.network_address, net.broadcast_address)):
            errors.append("%s=%s is not a host address of %s=%s" % (name, address, net_name, net))
        elif not inside and address in net:
            errors.append("%s=%s must be outside %s=%s" % (name, address, net_name, net))
    if errors:
        raise LabEnvError("the lab topology (%s and the environment) is wrong:\n%s"
                          % (os.path.relpath(SOURCE, REPO), "".join("  - %s\n" % e for e in errors)))


def short_name(name):
    """LAB_VM3_OUTSIDE_ADDRESS -> vm3_outside, LAB_SUBNET -> subnet, LAB_NET_NAME -> net_name."""
    name = name[len("LAB_"):] if name.startswith("LAB_") else name
    if name.endswith("_ADDRESS"):
        name = name[:-len("_ADDRESS")]
    return name.lower()


def lab(environ=None, path=SOURCE):
    """resolve() with short names: {'domain': ..., 'vm1': ..., 'subnet': ..., ...}."""
    return dict((short_name(name), value) for name, value in resolve(environ, path).items())


def main(argv):
    try:
        values = resolve()
    except (LabEnvError, OSError) as exc:
        sys.stderr.write("%s: %s\n" % (os.path.basename(argv[0]), exc))
        return 1
    if argv[1:] == ["--check"]:
        return 0
    if argv[1:] == ["--export"]:
        for name, value in values.items():
            print("export %s=%s" % (name, shlex.quote(value)))
        return 0
    if not argv[1:] or argv[1].startswith("-"):
        sys.stderr.write("usage: %s --check | --export | COMMAND [ARG...]\n" % argv[0])
        return 2
    env = dict(os.environ, **values)
    os.execvpe(argv[1], argv[1:], env)
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv))
