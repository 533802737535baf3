# ops535.mail_security: lab-in-a-box and test harness.
#   make lab       build and start the lab, apply the playbooks, leave it running
#   make test      everything CI runs
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/ops535/mail_security
LAB_LOCK := /tmp/ops535-lab.lock
SCENARIOS ?= $(sort $(filter-out lab,$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))))
HOST ?= vm3
# Molecule runs with the lab's addresses set: .config/molecule/lab.env.yml, where the
# environment does not override them (e.g. LAB_STRANGER_ADDRESS=198.51.100.70 make molecule ...).
LAB_ENV := $(BIN)/python scripts/lab_env.py
FORKS ?= 50

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export MOLECULE_GLOB := molecule/*/molecule.yml
export ANSIBLE_FORCE_COLOR ?= false
export PY_COLORS ?= 0

.PHONY: help venv collection host-deps docker images lab lab-up lab-down lab-shell grade \
        test lint yamllint ansible-lint units sanity import changelog-lint molecule molecule-all bench clean

help:
	@echo "make lab                 build images, start the lab, apply the playbooks, leave it running"
	@echo "make lab-shell HOST=vm2  a shell on a lab host (vm1 vm2 vm3 stranger outsider)"
	@echo "make lab-down            tear the lab down"
	@echo "make grade INVENTORY=f   verify every lab of an inventory (e.g. a class roster) over SMTP"
	@echo "make test                lint, unit tests, sanity, galaxy-importer, every Molecule scenario"
	@echo "make molecule SCENARIO=x one Molecule scenario ($(SCENARIOS))"

$(VENV)/.installed: requirements.txt
	@echo "==> creating the virtualenv $(VENV) (pinned requirements.txt)"
	@$(PYTHON) -m venv $(VENV) || { echo "ERROR: '$(PYTHON) -m venv' failed: install python3-venv (apt-get install python3-venv)"; exit 1; }
	@$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	@touch $@

venv: $(VENV)/.installed

collection: venv
	@mkdir -p $(dir $(COLLECTION_LINK))
	@ln -sfn $(CURDIR) $(COLLECTION_LINK)

host-deps:
	@scripts/host-deps.sh

docker:
	@scripts/ensure-docker.sh

images: build docker host-deps
	@scripts/build-images.sh > build/.lab-image 2> >(cat >&2) || { rm -f build/.lab-image; exit 1; }

build:
	@mkdir -p build

# ---------------------------------------------------------------- the lab
# Molecule's dependency step runs scripts/check-lab-network.py after the clean-up, before creating anything.
lab-up: build collection images
	@echo "==> starting the lab containers"
	@flock $(LAB_LOCK) $(LAB_ENV) sh -c 'if [ "$$(docker ps -q --filter label=ops535.lab=true --filter status=running | wc -l)" -ne 5 ]; then \
	  scripts/lab-cleanup.sh; molecule reset -s lab >/dev/null 2>&1 || true; fi; \
	  LAB_IMAGE=$$(cat build/.lab-image) molecule create -s lab'


lab: lab-up
	@echo "==> applying the baseline and the investigation playbooks"
	@flock $(LAB_LOCK) $(LAB_ENV) env LAB_IMAGE=$$(cat build/.lab-image) molecule converge -s lab
	@scripts/lab-instructions.sh

grade: collection
	@test -n "$(INVENTORY)" || { echo "usage: make grade INVENTORY=inventory/class/roster.yml"; exit 2; }
	ANSIBLE_PIPELINING=true ansible-playbook -i $(INVENTORY) -f $(FORKS) playbooks/verify.yml $(ARGS)

lab-shell:
	@docker exec -it $(HOST) bash -l

lab-down: collection
	@flock $(LAB_LOCK) $(LAB_ENV) sh -c 'molecule destroy -s lab || true; scripts/lab-cleanup.sh'


# ---------------------------------------------------------------- tests
test: lint units sanity import molecule-all
	@echo "==> make test: all checks passed"

lint: yamllint ansible-lint changelog-lint

yamllint: venv
	@echo "==> yamllint"
	@yamllint -s .

ansible-lint: collection
	@echo "==> ansible-lint (production profile)"
	@ANSIBLE_HOME=$(CURDIR)/build/ansible-home ansible-lint --offline -q

changelog-lint: venv
	@echo "==> antsibull-changelog lint"
	@scripts/changelog-lint.sh

units: collection host-deps
	@echo "==> unit tests"
	@python -m pytest -q tests/unit tests/ee tests/browser

sanity: collection host-deps
	@echo "==> ansible-test sanity"
	@scripts/ansible-test-sanity.sh

import: collection
	@echo "==> ansible-galaxy collection build + galaxy-importer"
	@scripts/galaxy-import.sh

molecule: build collection $(if $(LAB_IMAGE),docker,images)
	@test -n "$(SCENARIO)" || { echo "usage: make molecule SCENARIO=<$(SCENARIOS)>"; exit 2; }
	@echo "==> molecule test -s $(SCENARIO)"
	@flock $(LAB_LOCK) $(LAB_ENV) sh -c 'scripts/lab-cleanup.sh && LAB_IMAGE=$(or $(LAB_IMAGE),$$(cat build/.lab-image)) molecule test -s $(SCENARIO)'


molecule-all: build collection $(if $(LAB_IMAGE),docker,images)
	@for s in $(SCENARIOS); do $(MAKE) --no-print-directory molecule SCENARIO=$$s || exit 1; done

bench: build collection images
	@bench/run.sh

clean:
	rm -rf build .cache tests/output
