"""The platform facts the Molecule tests need, taken from the roles' own per-OS vars files.

A test that hard-codes a Debian path proves nothing on EL (and fails there for the wrong reason).
Tests ask ``platform_facts(host)`` instead: the host's OS family (from /etc/os-release), then the
values the roles themselves use on that family (roles/*/vars/<family>.yml), so a test and the role
it tests can never disagree about where a file lives or what a package is called.
"""

import subprocess
from functools import lru_cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
ROLES = ("lab_baseline", "policyd_spf", "bind_spf_records")
FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "rhel": "RedHat", "fedora": "RedHat", "centos": "RedHat",
            "rocky": "RedHat", "almalinux": "RedHat"}
# What each family answers differently at the same step (shared/reference/lab-behaviour.md).
REPLIES = {
    # Investigation 1 step 11, outsider relaying: Debian's default relay restrictions end in
    # defer_unauth_destination and are evaluated first (3.7, compatibility 3.6); EL's 3.5 has none.
    "Debian": {"outside_relay_step11": (454, "4.7.1")},
    "RedHat": {"outside_relay_step11": (554, "5.7.1")},
}


def _family_of(name, os_release):
    release = {}
    for line in os_release.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            release[key] = value.strip().strip('"')
    for word in [release.get("ID", "")] + release.get("ID_LIKE", "").split():
        if word in FAMILIES:
            return FAMILIES[word]
    raise AssertionError("%s: unknown OS family in /etc/os-release: %r" % (name, release))


def os_family(host):
    """Debian or RedHat, from the host's /etc/os-release (ID, then ID_LIKE)."""
    return _family_of(host.name, host.check("cat /etc/os-release"))


@lru_cache(maxsize=None)
def container_facts(name):
    """platform_facts of a lab container by its name, for module-level constants of a test helper."""
    proc = subprocess.run(["docker", "exec", name, "cat", "/etc/os-release"], capture_output=True, text=True,
                          check=False, timeout=60)
    assert proc.returncode == 0, "docker exec %s: %s" % (name, proc.stderr)
    return _vars(_family_of(name, proc.stdout))


@lru_cache(maxsize=None)
def _vars(family):
    values = {"os_family": family}
    for role in ROLES:
        path = REPO / "roles" / role / "vars" / ("%s.yml" % family)
        values.update(yaml.safe_load(path.read_text()) or {})
    values.update(REPLIES[family])
    return values


_FAMILY_OF = {}


def platform_facts(host):
    """The roles' per-OS values for this lab host (cached per host)."""
    if host.name not in _FAMILY_OF:
        _FAMILY_OF[host.name] = os_family(host)
    return _vars(_FAMILY_OF[host.name])


def package_installed(host, package):
    """Whether the package is installed, asked with the platform's own package tool."""
    if platform_facts(host)["os_family"] == "Debian":
        out = host.run("dpkg-query -W -f='${db:Status-Abbrev}' %s" % package)
        return out.rc == 0 and out.stdout.startswith("ii")
    return host.run("rpm -q --quiet %s" % package).rc == 0
