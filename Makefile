# The two commands the README documents.
.PHONY: demo test

## Run the main job locally against the bundled Identity Store emulator (no AWS account).
demo:
	./scripts/demo.sh

## Run every test and check (what CI runs).
test:
	./scripts/test.sh
