"""The lab-in-a-box's addresses are written once: .config/molecule/lab.env.yml.

Every other file of the harness and the collection's roles and playbooks derives them (the
environment via scripts/lab_env.py, the inventory's lab_* variables, conftest's LAB): a lab
address written anywhere else is a second copy that an override does not reach.
"""

import importlib.util
import ipaddress
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SOURCE = REPO / ".config" / "molecule" / "lab.env.yml"
# Where the lab's addresses must not be written again (the Makefile and Molecule's shared config
# carried them too). Documentation (*.md) and fixtures are excepted: they show or test values.
SCANNED = ("molecule", "roles", "playbooks", "scripts", "bench", ".config/molecule", "Makefile")
# A literal that is a lab address by value but another fact, each with the reason.
OTHER_FACTS = {
    ("roles/bind_spf_records/meta/argument_specs.yml", "198.51.100.254"):
        "documents spf_zone_policy's OUTSIDE_CANDIDATES (the policy check's own probe address)",
}
TOKEN = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?!\d|\.\d)")


def load_lab_env():
    spec = importlib.util.spec_from_file_location("lab_env", str(REPO / "scripts" / "lab_env.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def lab_literals(source=SOURCE):
    """Every value of the source file that is an IPv4 address or network."""
    literals = set()
    for value in load_lab_env().defaults(str(source)).values():
        try:
            ipaddress.ip_network(value)
        except ValueError:
            continue
        literals.add(value)
    return literals


def excepted(relative):
    parts = Path(relative).parts
    return relative.endswith(".md") or "fixtures" in parts or "docs" in parts or "__pycache__" in parts


def project_files(root):
    """The files git would commit under root (generated reports and caches it ignores are not the
    project's), or None when root is not a git work tree."""
    proc = subprocess.run(["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                          capture_output=True, check=False)
    if proc.returncode != 0:
        return None
    return set(Path(root) / name for name in proc.stdout.decode().split("\0") if name)


def copies(root, literals, scanned=SCANNED, source=SOURCE, other_facts=None):
    """(file:line, literal) for each lab address written under `scanned` outside the source."""
    other_facts = OTHER_FACTS if other_facts is None else other_facts
    found = []
    known = project_files(root)
    for top in scanned:
        top = Path(root) / top
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            if known is not None and path not in known:
                continue
            relative = path.relative_to(root).as_posix()
            if path.resolve() == Path(source).resolve() or excepted(relative):
                continue
            try:
                text = path.read_text()
            except (UnicodeDecodeError, OSError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                for token in TOKEN.findall(line):
                    if token in literals and (relative, token) not in other_facts:
                        found.append(("%s:%d" % (relative, number), token))
    return found


def test_the_source_holds_the_labs_addresses():
    literals = lab_literals()
    env = load_lab_env().defaults(str(SOURCE))
    assert {env["LAB_VM1_ADDRESS"], env["LAB_SUBNET"], env["LAB_OUTSIDE_GATEWAY"], env["LAB_NAMELESS_ADDRESS"]} <= literals
    assert env["LAB_DOMAIN"] not in literals


def test_no_lab_address_is_written_outside_the_source():
    found = copies(REPO, lab_literals())
    assert not found, "lab addresses written outside %s (take them from it, or from the inventory):\n%s" % (
        SOURCE.relative_to(REPO), "\n".join("  %s: %s" % item for item in found))


def test_the_scan_finds_a_copy(tmp_path):
    source = tmp_path / ".config" / "molecule" / "lab.env.yml"
    source.parent.mkdir(parents=True)
    source.write_text(SOURCE.read_text())
    literals = lab_literals(source)
    vm1 = load_lab_env().defaults(str(source))["LAB_VM1_ADDRESS"]
    subnet = load_lab_env().defaults(str(source))["LAB_SUBNET"]
    (tmp_path / "roles" / "r" / "defaults").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "defaults" / "main.yml").write_text(
        "a: \"{{ lab_vm1_address | default('%s') }}\"\nb: %s.\nc: %s9\nd: %s\n" % (vm1, vm1, vm1, subnet))
    (tmp_path / "roles" / "r" / "README.md").write_text("vm1 is %s\n" % vm1)
    (tmp_path / "molecule" / "fixtures").mkdir(parents=True)
    (tmp_path / "molecule" / "fixtures" / "zone").write_text("vm1 IN A %s\n" % vm1)
    found = copies(tmp_path, literals, source=source, other_facts={})
    # the copy (also at the end of a sentence) and the subnet; not a longer address, not docs or fixtures
    assert found == [("roles/r/defaults/main.yml:1", vm1), ("roles/r/defaults/main.yml:2", vm1),
                     ("roles/r/defaults/main.yml:4", subnet)]


def test_molecule_config_takes_every_lab_value_from_the_environment():
    config = (REPO / ".config" / "molecule" / "config.yml").read_text()
    names = set(load_lab_env().defaults(str(SOURCE)))
    used = set(re.findall(r"\$\{(LAB_[A-Z0-9_]+)", config))
    assert used - {"LAB_IMAGE"} <= names, used - names
    assert names <= used, "not passed to Molecule: %s" % sorted(names - used)
    with_default = [name for name in re.findall(r"\$\{(LAB_[A-Z0-9_]+):?-", config) if name in names]
    assert not with_default, "a default in config.yml is a second copy: %s" % with_default


@pytest.mark.parametrize("token,line", [
    ("198.51.100.1", "x 198.51.100.1, y"),
    ("198.51.100.0/25", "[198.51.100.0/25]"),
])
def test_the_token_pattern(token, line):
    assert TOKEN.findall(line) == [token]
    assert TOKEN.findall("198.51.100.10 198.51.100.1.5 2198.51.100.1") == ["198.51.100.10"]
