# `sam build` runs this (template: Metadata BuildMethod makefile). Dependencies are the
# wheels of the function's platform, not of the build machine: keep these in step with
# Runtime and Architectures in template.yaml (tests/test_http_api.py checks). The
# architecture is the template's parameter: `WF_ARCHITECTURE=x86_64 sam build
# --parameter-overrides Architecture=x86_64` (as `make sam-local` does) builds the other.
WF_ARCHITECTURE ?= arm64
PLATFORM_arm64 = manylinux2014_aarch64
PLATFORM_x86_64 = manylinux2014_x86_64
PLATFORM = --platform $(PLATFORM_$(WF_ARCHITECTURE)) --implementation cp --python-version 3.13 --only-binary=:all:
RUNTIME_PYTHON = python3.13

# handler.py and the whole wf package tree (subpackages and py.typed), then the
# dependencies: exactly the versions of the lock (requirements.txt, with hashes). Bytecode: only the function's runtime's own. pip would compile with the
# build machine's Python, whose bytecode a 3.13 runtime ignores (it compiles every
# module again at each cold start, /var/task being read-only); so nothing is compiled
# by pip, and where a 3.13 interpreter is at hand (`sam build --use-container` builds in
# the runtime's image) everything is compiled with it, for cold starts to load it.
build-WorkflowFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "build-WorkflowFunction is run by sam build (it sets ARTIFACTS_DIR)"; exit 2; }
	cp handler.py "$(ARTIFACTS_DIR)/"
	# A Dapr Configuration for the template's DaprConfigFile, if the project has one.
	if [ -f dapr-config.yaml ]; then cp dapr-config.yaml "$(ARTIFACTS_DIR)/"; fi
	tar -c --exclude=__pycache__ --exclude='*.pyc' wf | tar -x -C "$(ARTIFACTS_DIR)"
	python3 -m pip install --quiet --no-compile --require-hashes --no-deps -r requirements.txt -t "$(ARTIFACTS_DIR)" $(PLATFORM)
	if $(RUNTIME_PYTHON) -c "" >/dev/null 2>&1; then \
		$(RUNTIME_PYTHON) -m compileall -q -j 0 "$(ARTIFACTS_DIR)"; \
	else \
		echo "no $(RUNTIME_PYTHON) here: the artifact ships no bytecode (3.11's would be ignored); build with --use-container for it"; \
	fi

# The function in SAM's own local runtime: `sam build` (x86_64 here), the events/ files
# through `sam local invoke`, the HTTP contract through `sam local start-api`, on local
# emulators (tests/sam_local.py). Ends with a line `N passed, M failed`.
.PHONY: sam-local
sam-local: .venv/bin/python
	.venv/bin/python -m tests.sam_local

# The project's venv, as the README's test command makes it, when there is none yet.
.venv/bin/python:
	python3 -m venv .venv
	.venv/bin/python -m pip install --quiet -e '.[dev]'

# Upgrade the locks within pyproject.toml's bounds (the runtime dependencies and the
# `develop` group): requirements-dev.lock, the `dev` extra that repeats its exact versions
# (what `pip install -e '.[dev]'` installs: the project's venv, CI), and requirements.txt
# (the function's dependencies, the same versions, with hashes).
.PHONY: lock
lock: .venv/bin/python
	.venv/bin/uv pip compile pyproject.toml --group develop --universal --python-version 3.11 --upgrade --quiet -o requirements-dev.lock
	.venv/bin/python .ci/dev_extra.py
	.venv/bin/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -c requirements-dev.lock --quiet -o requirements.txt
