"""The project's differential fuzzer (tests/fuzz/): a short fixed stretch of seeds on every backend, and the
harness's crash isolation. A long run is by hand: `python -m tests.fuzz --seconds 600` (README, Testing)."""

from __future__ import annotations

import numpy as np
from fuzz.__main__ import report, run_seeds
from fuzz.check import check
from fuzz.ops import NumpyAPI
from fuzz.programs import Input, Program

CI_SEEDS = (0, 10)  # about 25 s on 2 cores, compiles included


def test_a_short_fuzz_run_finds_nothing_new() -> None:
    results = run_seeds(*CI_SEEDS)
    assert sorted(results) == list(range(*CI_SEEDS))
    text, new = report(results)
    assert new == 0, text


def test_a_crash_or_a_hang_is_reported_with_its_seed_and_the_run_goes_on() -> None:
    env = {"GRAPHC_FUZZ_CRASH_SEED": "1", "GRAPHC_FUZZ_HANG_SEED": "3", "GRAPHC_FUZZ_BACKENDS": "interp"}
    results = run_seeds(0, 5, seed_timeout=6, env={**env, "GRAPHC_FUZZ_JAX": "0"})
    assert sorted(results) == [0, 1, 2, 3, 4], results
    assert results[1][0].startswith("crash: the worker died with status")
    assert results[3][0].startswith("hang: no result after 6 s")
    text, new = report(results)
    assert new == 2 and "seed 1:" in text and "seed 3:" in text


def test_the_checker_sees_a_wrong_value(monkeypatch) -> None:
    """A reference off by one part in a million is a finding: the tolerances are not blind."""
    program = Program(seed=0, sizes={"n": 3, "m": 2}, inputs=[Input("x0", ("n", 2), "float64")])
    program.steps = [("input", (), {"k": 0}), ("tanh", (0,), {}), ("exp", (1,), {})]
    program.outputs = [2]
    assert check(program, backends=["interp", "numpy"]) == []
    monkeypatch.setattr(NumpyAPI, "tanh", staticmethod(lambda x: np.tanh(x) * (1 + 1e-6)), raising=False)
    found = check(program, backends=["interp", "numpy"])
    assert len(found) == 4 and all("output 0" in f and "entries differ" in f for f in found)
