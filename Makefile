build-WorkflowFunction:
	cp handler.py "$(ARTIFACTS_DIR)/"
	mkdir -p "$(ARTIFACTS_DIR)/wf"
	cp wf/*.py "$(ARTIFACTS_DIR)/wf/"
	python3 -m pip install --quiet -r requirements.txt -t "$(ARTIFACTS_DIR)"
