"""scripts/lab_env.py: the lab-in-a-box topology from .config/molecule/lab.env.yml and the environment."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "scripts" / "lab_env.py"
SOURCE = REPO / ".config" / "molecule" / "lab.env.yml"


@pytest.fixture(scope="module")
def lab_env():
    spec = importlib.util.spec_from_file_location("lab_env", str(SCRIPT))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def defaults(lab_env):
    return lab_env.defaults()


def test_the_file_is_the_yaml_molecule_would_read(defaults):
    # the stdlib reader and a YAML parser agree (values as strings)
    assert defaults == {k: str(v) for k, v in yaml.safe_load(SOURCE.read_text()).items()}


def test_without_overrides_the_file_wins(lab_env, defaults):
    assert lab_env.resolve({}) == defaults
    assert lab_env.resolve({"LAB_VM1_ADDRESS": "", "LAB_UNRELATED": "x"}) == defaults


def test_an_override_in_the_environment_wins(lab_env, defaults):
    resolved = lab_env.resolve({"LAB_STRANGER_ADDRESS": " 198.51.100.70 ", "LAB_DOMAIN": "jdoe.ops"})
    assert resolved == dict(defaults, LAB_STRANGER_ADDRESS="198.51.100.70", LAB_DOMAIN="jdoe.ops")


def test_short_names(lab_env, defaults):
    lab = lab_env.lab({})
    assert lab["vm1"] == defaults["LAB_VM1_ADDRESS"]
    assert lab["vm3_outside"] == defaults["LAB_VM3_OUTSIDE_ADDRESS"]
    assert lab["subnet"] == defaults["LAB_SUBNET"]
    assert lab["outside_gateway"] == defaults["LAB_OUTSIDE_GATEWAY"]
    assert lab["net_name"] == defaults["LAB_NET_NAME"]
    assert lab["domain"] == defaults["LAB_DOMAIN"]


@pytest.mark.parametrize("override,message", [
    ({"LAB_VM1_ADDRESS": "vm1"}, "LAB_VM1_ADDRESS=vm1 is not an IPv4 address"),
    ({"LAB_SUBNET": "198.51.100.1/25"}, "LAB_SUBNET=198.51.100.1/25 is not an IPv4 network"),
    ({"LAB_STRANGER_ADDRESS": "198.51.100.200"}, "LAB_STRANGER_ADDRESS=198.51.100.200 is not a host address of LAB_SUBNET"),
    ({"LAB_OUTSIDER_ADDRESS": "198.51.100.9"}, "LAB_OUTSIDER_ADDRESS=198.51.100.9 is not a host address of LAB_OUTSIDE_SUBNET"),
    ({"LAB_VM2_ADDRESS": "198.51.100.0"}, "LAB_VM2_ADDRESS=198.51.100.0 is not a host address of LAB_SUBNET"),
    ({"LAB_NAMELESS_ADDRESS": "198.51.100.9"}, "LAB_NAMELESS_ADDRESS=198.51.100.9 must be outside LAB_SUBNET"),
    ({"LAB_VM2_ADDRESS": "198.51.100.66"}, "LAB_VM2_ADDRESS and LAB_STRANGER_ADDRESS are both 198.51.100.66"),
    ({"LAB_OUTSIDE_SUBNET": "198.51.100.0/24"}, "LAB_SUBNET=198.51.100.0/25 and LAB_OUTSIDE_SUBNET=198.51.100.0/24 overlap"),
])
def test_a_lab_that_cannot_exist_is_refused_naming_the_variable(lab_env, override, message):
    with pytest.raises(lab_env.LabEnvError) as error:
        lab_env.resolve(override)
    assert message in str(error.value)


@pytest.mark.parametrize("text,message", [
    ("LAB_DOMAIN: a\nLAB_DOMAIN: b\n", "LAB_DOMAIN is set twice"),
    ("LAB_DOMAIN: [a, b]\nnested:\n  x: 1\n", "not a 'LAB_NAME: value' line"),
    ("LAB_DOMAIN: lab.ops\n", "no value for LAB_OTHER_DOMAIN"),
])
def test_a_bad_source_file_is_refused(lab_env, tmp_path, text, message):
    path = tmp_path / "lab.env.yml"
    path.write_text(text)
    with pytest.raises(lab_env.LabEnvError, match=message):
        lab_env.defaults(str(path))


def run(args, **env):
    environ = dict((k, v) for k, v in os.environ.items() if not k.startswith("LAB_"))
    environ.update(env)
    return subprocess.run([sys.executable, str(SCRIPT)] + args, capture_output=True, text=True, env=environ, check=False)


def test_the_command_runs_with_the_labs_variables(defaults):
    out = run([sys.executable, "-c", "import os; print(os.environ['LAB_VM1_ADDRESS'], os.environ['LAB_STRANGER_ADDRESS'])"],
              LAB_STRANGER_ADDRESS="198.51.100.70")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [defaults["LAB_VM1_ADDRESS"], "198.51.100.70"]


def test_export_is_shell_and_a_wrong_override_stops_everything(defaults):
    out = run(["--export"], LAB_DOMAIN="it's.ops")
    assert out.returncode == 0
    shell = subprocess.run(["sh", "-c", out.stdout + 'printf "%s|%s" "$LAB_DOMAIN" "$LAB_SUBNET"'],
                           capture_output=True, text=True, check=True)
    assert shell.stdout == "it's.ops|%s" % defaults["LAB_SUBNET"]
    out = run(["true"], LAB_VM3_ADDRESS="198.51.100.300")
    assert out.returncode == 1 and "LAB_VM3_ADDRESS=198.51.100.300 is not an IPv4 address" in out.stderr
    assert run([]).returncode == 2


def test_the_dependency_step_refuses_molecule_without_the_variables():
    # Molecule run directly (not under lab_env.py) renders its configuration with empty values
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "check-lab-network.py")], capture_output=True, text=True,
                         env=dict((k, v) for k, v in os.environ.items() if not k.startswith("LAB_")), check=False)
    assert out.returncode == 1
    assert "LAB_VM1_ADDRESS" in out.stderr and "scripts/lab_env.py molecule test -s default" in out.stderr
