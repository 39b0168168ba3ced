# rwmu: the two commands of the README.
#   make demo   set up (if needed) and run the main job, printing where the results are
#   make test   set up (if needed), lint and format-check (ruff), and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test setup clean

$(BIN)/rwmu: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The pinned CPU torch first: a bare "torch" requirement would pull several GB of CUDA wheels.
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	# The tests cover the optional Ray backend too (tests/experiments/test_ray_backend.py).
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	@touch $@

setup: $(BIN)/rwmu

demo: setup
	$(BIN)/rwmu demo --out demo_out

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest tests

clean:
	rm -rf $(VENV) demo_out
