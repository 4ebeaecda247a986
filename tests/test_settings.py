"""graphc.settings: the GRAPHC_* environment variables, read once, read again on reload()."""

from __future__ import annotations

from pathlib import Path

import pytest

from graphc import settings
from graphc.errors import GraphcError


def test_read_takes_each_variable():
    env = {"GRAPHC_CACHE_DIR": "/c", "GRAPHC_NUM_THREADS": "3", "GRAPHC_DUMP_IR": "/d"}
    env["GRAPHC_CACHE_MAX_MB"] = "64"
    assert settings.read(env) == settings.Settings(Path("/c"), 3, Path("/d"), cache_max_mb=64.0)


def test_unset_or_empty_variables_mean_the_defaults():
    assert settings.read({}) == settings.read({"GRAPHC_CACHE_DIR": "", "GRAPHC_NUM_THREADS": ""})
    assert settings.read({}) == settings.Settings(None, None, None)
    assert settings.read({"GRAPHC_NUM_THREADS": "0"}).num_threads == 1


def test_a_bad_thread_count_names_the_variable():
    with pytest.raises(GraphcError, match="GRAPHC_NUM_THREADS must be a whole number, not 'two'"):
        settings.read({"GRAPHC_NUM_THREADS": "two"})
    for bad in ("lots", "-1", "inf", "nan"):
        with pytest.raises(GraphcError, match=f"GRAPHC_CACHE_MAX_MB must be a number of MB.*not '{bad}'"):
            settings.read({"GRAPHC_CACHE_MAX_MB": bad})


def test_read_once_until_reloaded(monkeypatch):
    monkeypatch.setenv("GRAPHC_NUM_THREADS", "5")
    assert settings.reload() is settings.current()
    monkeypatch.setenv("GRAPHC_NUM_THREADS", "6")
    assert settings.current().num_threads == 5
    assert settings.reload().num_threads == 6
