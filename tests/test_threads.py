"""Shared variables updated from several threads lose no update (issue 17): a call of a function with updates
holds the lock of each shared variable it updates, taken in one fixed order, from reading the shared values to
storing the new ones; set_value takes the same lock. Four threads, each calling steps that update the same
variables, end with every update counted."""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import graphc as gc

THREADS, CALLS = 4, 1500


@pytest.fixture
def switch_often():
    """Switch threads every microsecond, so that a call that is not atomic is interrupted often."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _in_threads(work) -> None:
    errors: list[BaseException] = []

    def run(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_no_update_is_lost(backend, switch_often):
    count = gc.shared(np.zeros(3), name="count")
    step = gc.vector("step", 3)
    add = gc.function([step], count.sum(), updates={count: count + step}, backend=backend)
    _in_threads(lambda k: [add(np.ones(3)) for _ in range(CALLS)])
    np.testing.assert_array_equal(count.get_value(), np.full(3, THREADS * CALLS))


def test_two_functions_updating_the_same_variables_in_any_order(backend, switch_often):
    """Each takes both locks in the same order (whatever order its updates name them): no deadlock."""
    a, b = gc.shared(np.zeros(2), name="a"), gc.shared(np.zeros(2), name="b")
    one = gc.vector("one", 2)
    ab = gc.function([one], a.sum(), updates={a: a + one, b: b + 2 * one}, backend=backend)
    ba = gc.function([one], b.sum(), updates={b: b + one, a: a + 2 * one}, backend=backend)
    _in_threads(lambda k: [(ab if k % 2 else ba)(np.ones(2)) for _ in range(CALLS)])
    np.testing.assert_array_equal(a.get_value(), np.full(2, 3 * THREADS * CALLS / 2))
    np.testing.assert_array_equal(b.get_value(), np.full(2, 3 * THREADS * CALLS / 2))


def test_set_value_waits_for_a_step_that_updates_the_variable():
    """A value set while a step runs is not lost to the step's update: set_value takes the same lock."""
    w = gc.shared(np.zeros(4), name="w")
    done = threading.Event()
    setter = threading.Thread(target=lambda: (w.set_value(np.ones(4)), done.set()))
    with w._lock:  # as a step holds it from reading w to storing its new value
        setter.start()
        assert not done.wait(0.05)
    setter.join()
    np.testing.assert_array_equal(w.get_value(), np.ones(4))
