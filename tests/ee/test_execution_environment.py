# -*- coding: utf-8 -*-
# Copyright: (c) 2025, OPS535 mail security maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""meta/execution-environment.yml: the AWX / AAP execution environment (docs/awx.md).

The file has two readers, and both are exercised here, offline:
  * ``ansible-builder create`` reads it as a version 3 EE definition and writes a build
    context (Containerfile, _build/requirements.yml, scripts); no registry or index is needed;
  * ansible-builder's introspection (``introspect.py``, run inside every EE build) reads the
    meta/execution-environment.yml of each installed collection for its Python and system
    requirements. It must not fail on ours, and ours must add nothing: the controller side of
    the collection needs only ansible-core (checked below by reading the plugins' imports).

Run with: .venv/bin/python -m pytest tests/ee
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EE_FILE = ROOT / "meta" / "execution-environment.yml"

# Any attempt to reach the network goes to a closed port and fails at once.
OFFLINE_ENV = dict(os.environ, http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
                   HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", no_proxy="", NO_PROXY="",
                   PIP_NO_INDEX="1")


def run(args, **kwargs):
    check = kwargs.pop('check', False)
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          env=OFFLINE_ENV, timeout=120, check=check, **kwargs)


@pytest.fixture(scope="module")
def definition():
    with EE_FILE.open() as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context `ansible-builder create` writes for the definition, offline."""
    ctx = tmp_path_factory.mktemp("ee") / "context"
    proc = run([sys.executable, "-m", "ansible_builder", "create", "-f", str(EE_FILE), "--context", str(ctx),
                "--output-filename", "Containerfile", "-v", "3"], cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout
    assert "Complete! The build context can be found at" in proc.stdout, proc.stdout
    return ctx


def containerfile_stage(text, stage):
    """The lines of one build stage (FROM ... AS <stage>) of the Containerfile."""
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("FROM "):
            inside = line.rstrip().endswith(" AS %s" % stage)
            continue
        if inside:
            lines.append(line)
    assert lines, "no stage %s in the Containerfile" % stage
    return lines


def test_definition_is_version_3_without_collection_level_requirements(definition):
    assert definition["version"] == 3
    deps = definition["dependencies"]
    # Introspection reads dependencies.python / .system of this same file as paths relative to
    # the collection root; inline lists make it fail (see the last test), so none are set.
    assert "python" not in deps and "system" not in deps
    assert deps["ansible_core"]["package_pip"].startswith("ansible-core")
    assert deps["ansible_runner"]["package_pip"].startswith("ansible-runner")
    names = [c["name"] for c in deps["galaxy"]["collections"]]
    assert "ops535.mail_security" in names


def test_context_files(context):
    files = sorted(str(p.relative_to(context)) for p in context.rglob("*") if p.is_file())
    assert "Containerfile" in files
    assert "_build/requirements.yml" in files
    for script in ("assemble", "check_ansible", "check_galaxy", "entrypoint", "install-from-bindep",
                   "introspect.py", "pip_install"):
        assert "_build/scripts/%s" % script in files
    # No Python or system requirement file of our own: the controller needs nothing beyond core.
    assert "_build/requirements.txt" not in files
    assert "_build/bindep.txt" not in files


def test_galaxy_requirements(context):
    with (context / "_build" / "requirements.yml").open() as handle:
        requirements = yaml.safe_load(handle)
    assert requirements == {"collections": [{"name": "ops535.mail_security", "version": ">=0.1.0"}]}


def test_containerfile(context, definition):
    text = (context / "Containerfile").read_text()
    base = definition["images"]["base_image"]["name"]
    assert 'ARG EE_BASE_IMAGE="%s"' % base in text
    assert 'ARG PYCMD="/usr/bin/python3.11"' in text
    assert 'ARG PKGMGR="/usr/bin/dnf"' in text
    refs = [line for line in text.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS=")]
    assert len(refs) == 1
    assert "ansible-core>=2.19,<2.20" in refs[0] and "ansible-runner>=2.4,<3" in refs[0]

    assert any("-m pip install" in line and "$ANSIBLE_INSTALL_REFS" in line
               for line in containerfile_stage(text, "base"))
    galaxy = containerfile_stage(text, "galaxy")
    assert any(line.startswith("RUN ") and "ansible-galaxy collection install" in line and "-r requirements.yml" in line
               for line in galaxy)
    builder = containerfile_stage(text, "builder")
    assert any("introspect.py introspect" in line for line in builder)

    final = containerfile_stage(text, "final")
    assert "RUN $PKGMGR install -y openssh-clients sshpass && $PKGMGR clean all" in final
    assert "RUN /output/scripts/install-from-bindep && rm -rf /output/wheels" in final
    assert "LABEL ansible-execution-environment=true" in final
    assert final[-3:] == ["USER 1000", 'ENTRYPOINT ["/opt/builder/bin/entrypoint", "dumb-init"]', 'CMD ["bash"]']


def introspect(context, collections_dir):
    return run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                str(collections_dir)])


def test_introspection_of_the_installed_collection(context, tmp_path):
    """What the EE build's introspection step gets from this collection: no requirement, no error."""
    link = tmp_path / "ansible_collections" / "ops535" / "mail_security"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT, target_is_directory=True)
    proc = introspect(context, tmp_path)
    assert proc.returncode == 0, proc.stdout
    data = yaml.safe_load(proc.stdout.split("---", 1)[1])
    assert data == {"python": [], "system": []}, data


def test_introspection_fails_on_inline_requirements(context, tmp_path, definition):
    """The reason the definition sets no dependencies.python/system: introspection cannot read them inline."""
    broken = dict(definition, dependencies=dict(definition["dependencies"], system=["openssh-clients [platform:rpm]"]))
    coll = tmp_path / "ansible_collections" / "example" / "inline"
    (coll / "meta").mkdir(parents=True)
    (coll / "galaxy.yml").write_text("namespace: example\nname: inline\nversion: 1.0.0\n")
    (coll / "meta" / "execution-environment.yml").write_text(yaml.safe_dump(broken))
    proc = introspect(context, tmp_path)
    assert proc.returncode != 0
    assert "TypeError" in proc.stdout


# ------------------------------------------------------------------ what the controller imports
CONTROLLER_PLUGIN_DIRS = ("action", "become", "cache", "callback", "cliconf", "connection", "filter", "httpapi",
                          "inventory", "lookup", "netconf", "shell", "strategy", "terminal", "test", "vars")
OWN_PREFIX = "ansible_collections.ops535.mail_security."


def _imports(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_controller_side_needs_only_stdlib_and_ansible_core():
    """The claim behind "no Python requirement": controller plugins import only the standard library,
    ansible-core, Jinja2/PyYAML (ansible-core's own requirements) and the collection's module_utils."""
    allowed_third_party = {"ansible", "jinja2", "yaml", "markupsafe"}
    todo = [p for d in CONTROLLER_PLUGIN_DIRS for p in sorted((ROOT / "plugins" / d).glob("*.py"))]
    assert todo, "no controller-side plugin found"
    seen, foreign = set(), []
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in _imports(path):
            top = name.split(".")[0]
            if name.startswith(OWN_PREFIX + "plugins.module_utils."):
                target = ROOT / Path(*name[len(OWN_PREFIX):].split(".")).with_suffix(".py")
                if target.exists():
                    todo.append(target)
                continue
            if top in sys.stdlib_module_names or top in allowed_third_party or top == "__future__":
                continue
            if top == "ansible_collections" and name.startswith(OWN_PREFIX):
                continue
            foreign.append("%s: %s" % (path.relative_to(ROOT), name))
    assert not foreign, "controller-side imports outside ansible-core: %s (add them to the EE)" % foreign
