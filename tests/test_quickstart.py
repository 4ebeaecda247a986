"""examples/quickstart.py (the README's main demo) runs and shows what it claims. Owns only this check."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np

QUICKSTART = pathlib.Path(__file__).resolve().parents[1] / "examples" / "quickstart.py"


def test_quickstart(capsys) -> None:
    spec = importlib.util.spec_from_file_location("example_quickstart", QUICKSTART)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.main([])
    printed = capsys.readouterr().out
    runs = out["backends"]
    assert {"interp", "numpy"} <= set(runs)
    for backend, r in runs.items():
        assert abs(r["losses"][0] - np.log(2)) < 1e-6  # w = 0, b = 0: every p is 1/2
        assert r["losses"][-1] < 0.05 and r["accuracy"] == 1.0, backend
        assert r["w"].dtype == np.float32  # the update kept the parameters' dtype
        np.testing.assert_allclose(r["w"], runs["interp"]["w"], rtol=1e-4)
    assert out["source"].startswith("def compiled(in0, in1, in2, in3):")  # our names; the user's in comments
    assert "# in0: input 'x'" in out["source"] and "# in3: shared 'b'" in out["source"]
    assert "#1 mean{axis=(0,), keepdims=False} -> loss [float32()]" in printed
    assert "n =  8: p = [" in printed
