"""How graphc shows itself to a person: graphs as drawings in Jupyter, pass reports as tables, training
progress as a notebook bar, a terminal bar, or plain lines in a log. User layer: reads graphc.viz lazily.

    >>> import graphc as gc
    >>> x = gc.vector("x")
    >>> sorted(gc.tanh(x)._repr_mimebundle_())     # in Jupyter: the book-style drawing, inline
    ['image/svg+xml', 'text/plain']

Nothing here runs unless a notebook asks for a display or gc.train reports progress.
"""

from __future__ import annotations

import html
import math
import shutil
import sys

from .errors import GraphcError

MAX_OPERATIONS = 300  # drawn inline at most; a bigger graph is drawn from its outputs down to a depth
DEPTHS = (12, 6, 3)  # the depths tried, in turn, for a graph too big to draw whole


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell), where HTML and widgets are shown."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


# --- drawings -----------------------------------------------------------------------------------------------
def mimebundle(obj) -> dict[str, str]:
    """What Jupyter shows for a Variable, a FunctionGraph or a Function: the drawing as SVG, and the repr as
    text (all there is without graphviz's `dot`, or if the drawing fails: a repr never raises)."""
    bundle = {"text/plain": repr(obj)}
    try:
        svg = drawing(obj)
    except Exception:  # noqa: BLE001 - showing a value must never fail; the text is still there
        svg = None
    if svg is not None:
        bundle["image/svg+xml"] = svg
    return bundle


def drawing(obj) -> str | None:
    """The SVG drawing of obj, bounded: at most MAX_OPERATIONS operations, cut by depth when bigger; None
    without `dot` or when even the cut graph is too wide."""
    if shutil.which("dot") is None:
        return None
    from graphc import viz

    for depth in (None, *DEPTHS):
        try:
            return viz.to_svg(obj, max_depth=depth, max_nodes=MAX_OPERATIONS)
        except GraphcError as exc:
            if "max_nodes" not in str(exc):
                raise
    return None


# --- pass reports -------------------------------------------------------------------------------------------
class Report(str):
    """f.report(): text when printed, a table in a notebook (`_repr_html_`)."""

    def __new__(cls, reports):
        text = "\n".join(str(r) for r in reports) or "no passes ran"
        self = super().__new__(cls, text)
        self.passes = list(reports)
        return self

    def _repr_html_(self) -> str:
        head = "<tr><th>pass</th><th>nodes before</th><th>after</th><th>ms</th><th>rewrites</th></tr>"
        rows = [
            f"<tr><td>{html.escape(r.name)}</td><td>{r.nodes_before}</td><td>{r.nodes_after}</td>"
            f"<td>{1000 * r.seconds:.1f}</td><td style='text-align:left'>{html.escape(_fired(r))}</td></tr>"
            for r in self.passes
        ]
        return f"<table>{head}{''.join(rows)}</table>" if rows else "<p>no passes ran</p>"


def _fired(report) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(report.rewrites.items())) or "nothing fired"


# --- training progress --------------------------------------------------------------------------------------
def progress_display(enabled: bool, epochs: int, desc: str):
    """Where gc.train shows its progress: tqdm's notebook bar in Jupyter (with ipywidgets), tqdm's bar on a
    terminal, else plain lines on stdout (a log file or CI gets no carriage returns)."""
    if not enabled:
        return _Silent()
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401 - tqdm's notebook bar is a widget
        except ImportError:
            return _Lines(epochs, desc)
        from tqdm.notebook import tqdm

        return _Bar(tqdm(total=epochs, desc=desc, leave=False))
    if sys.stdout.isatty() and sys.stderr.isatty():
        from tqdm import tqdm

        return _Bar(tqdm(total=epochs, desc=desc, leave=False))
    return _Lines(epochs, desc)


class _Silent:
    def show(self, epoch: int, values: dict[str, float]) -> None:
        pass

    def close(self, note: str = "") -> None:
        pass


class _Bar(_Silent):
    def __init__(self, bar):
        self.bar = bar

    def show(self, epoch: int, values: dict[str, float]) -> None:
        self.bar.set_postfix({k: f"{v:.4f}" for k, v in values.items()}, refresh=False)
        self.bar.update()

    def close(self, note: str = "") -> None:
        self.bar.close()


class _Lines(_Silent):
    """One line per epoch (every k-th when there are more than 100 epochs, and always the last)."""

    def __init__(self, epochs: int, desc: str):
        self.epochs, self.desc = epochs, desc
        self.every = max(1, math.ceil(epochs / 100))
        self.pending: str | None = None

    def show(self, epoch: int, values: dict[str, float]) -> None:
        shown = ", ".join(f"{k} {v:.4f}" for k, v in values.items())
        self.pending = f"{self.desc} epoch {epoch + 1}/{self.epochs}: {shown}"
        if (epoch + 1) % self.every == 0:
            print(self.pending, flush=True)
            self.pending = None

    def close(self, note: str = "") -> None:
        if self.pending is not None:
            print(self.pending, flush=True)
        if note:
            print(f"{self.desc}: {note}", flush=True)
