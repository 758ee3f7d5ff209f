# `sam build` runs this (template: Metadata BuildMethod makefile). Dependencies are the
# wheels of the function's platform, not of the build machine: keep these in step with
# Runtime and Architectures in template.yaml (tests/test_http_api.py checks).
PLATFORM = --platform manylinux2014_aarch64 --implementation cp --python-version 3.12 --only-binary=:all:

# handler.py and the whole wf package tree (subpackages and py.typed), without bytecode caches.
build-WorkflowFunction:
	cp handler.py "$(ARTIFACTS_DIR)/"
	tar -c --exclude=__pycache__ --exclude='*.pyc' wf | tar -x -C "$(ARTIFACTS_DIR)"
	python3 -m pip install --quiet -r requirements.txt -t "$(ARTIFACTS_DIR)" $(PLATFORM)
