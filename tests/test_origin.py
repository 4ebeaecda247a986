"""Origins: each node remembers the user's line; a rewrite's scope lends its origin on its own thread only."""

from __future__ import annotations

import threading
from pathlib import Path

import graphc as gc
from graphc.origin import origin_scope


def test_a_node_remembers_the_users_line():
    x = gc.vector("x")
    y = gc.exp(x)  # this line
    assert y.origin == (__file__, y.origin[1])
    assert "y = gc.exp(x)  # this line" in Path(__file__).read_text().splitlines()[y.origin[1] - 1]


def test_origin_scope_lends_its_origin_and_restores_the_outer_one():
    x = gc.vector("x")
    with origin_scope(("outer.py", 1)):
        with origin_scope(("inner.py", 2)):
            assert gc.exp(x).origin == ("inner.py", 2)
        assert gc.exp(x).origin == ("outer.py", 1)
    assert gc.exp(x).origin[0] == __file__


def test_a_scope_on_one_thread_does_not_leak_into_another():
    x = gc.vector("x")
    inside, outside = threading.Barrier(2), threading.Barrier(2)
    seen = {}

    def rewrite():
        with origin_scope(("rewrite.py", 7)):
            inside.wait()  # the other thread builds while this scope is open
            seen["rewrite"] = gc.exp(x).origin
            outside.wait()

    def user():
        inside.wait()
        seen["user"] = gc.tanh(x).origin
        outside.wait()

    threads = [threading.Thread(target=rewrite), threading.Thread(target=user)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["rewrite"] == ("rewrite.py", 7)
    assert seen["user"][0] == __file__
