# `sam build` runs this (template: Metadata BuildMethod makefile). Dependencies are the
# wheels of the function's platform, not of the build machine: keep these in step with
# Runtime and Architectures in template.yaml (tests/test_http_api.py checks).
PLATFORM = --platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all:
RUNTIME_PYTHON = python3.12

# handler.py and the whole wf package tree (subpackages and py.typed), then the
# dependencies. Bytecode: only the function's runtime's own. pip would compile with the
# build machine's Python, whose bytecode a 3.12 runtime ignores (it compiles every
# module again at each cold start, /var/task being read-only); so nothing is compiled
# by pip, and where a 3.12 interpreter is at hand (`sam build --use-container` builds in
# the runtime's image) everything is compiled with it, for cold starts to load it.
build-WorkflowFunction:
	cp handler.py "$(ARTIFACTS_DIR)/"
	tar -c --exclude=__pycache__ --exclude='*.pyc' wf | tar -x -C "$(ARTIFACTS_DIR)"
	python3 -m pip install --quiet --no-compile -r requirements.txt -t "$(ARTIFACTS_DIR)" $(PLATFORM)
	if $(RUNTIME_PYTHON) -c "" >/dev/null 2>&1; then \
		$(RUNTIME_PYTHON) -m compileall -q -j 0 "$(ARTIFACTS_DIR)"; \
	else \
		echo "no $(RUNTIME_PYTHON) here: the artifact ships no bytecode (3.11's would be ignored); build with --use-container for it"; \
	fi
