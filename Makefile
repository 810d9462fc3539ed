# The two commands the README documents, and the benchmarks.
.PHONY: demo test bench

## Run the main job locally against the bundled Identity Store emulator (no AWS account).
demo:
	./scripts/demo.sh

## Run every test and check (what CI runs).
test:
	./scripts/test.sh

## Run the benchmarks and rewrite BENCHMARKS.md (ARGS="..." go to the harness, e.g. ARGS=--quick).
bench:
	./scripts/bench.sh $(ARGS)
