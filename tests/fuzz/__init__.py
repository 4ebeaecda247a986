"""graphc's own differential fuzzer: seeded random programs (programs.py) checked on every backend against
NumPy, the interpreter and JAX (check.py), each batch in a subprocess (__main__.py). tests/test_fuzz.py runs
a short stretch in CI; `python -m tests.fuzz --seconds 600` runs a long one by hand."""
