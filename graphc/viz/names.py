"""How the book writes things: variable names (u⁽¹⁾, W⁽¹⁾, ŷ, λ, ∇_W J, dz/dw) and operation symbols
(matmul, +, ×, σ, relu, sqr, sum). Pure text; knows the core's Op set, nothing of graphviz or passes."""

from __future__ import annotations

import html
import re
import unicodedata

import numpy as np

from graphc.graph import Constant, Node, Variable
from graphc.ops import Op

SUPERSCRIPT = str.maketrans("0123456789()+-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾⁺⁻")
GREEK = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "eta": "η", "theta": "θ",
    "lambda": "λ", "lam": "λ", "mu": "μ", "sigma": "σ", "tau": "τ", "phi": "φ", "omega": "ω",
}  # fmt: skip
HAT = re.compile(r"^(?P<base>[A-Za-z])(_?hat|\^)$")
DERIVATIVE = re.compile(r"^d(?P<f>.+)_d[A-Za-z_]\w*$")
MARKUP = '<>&"\\'  # characters that make a plain DOT label mean something else
NUMBERED = re.compile(r"^(?P<base>[A-Za-z]+?)_?\(?(?P<num>\d+)\)?$")

OP_SYMBOLS = {
    Op.ADD: "+", Op.SUB: "−", Op.MUL: "×", Op.DIV: "÷", Op.NEG: "−", Op.POW: "pow",
    Op.SIGMOID: "σ", Op.MAXIMUM: "max", Op.MINIMUM: "min", Op.LOG_SOFTMAX: "log softmax",
    Op.BROADCAST_TO: "broadcast", Op.TRANSPOSE: "transpose",
    Op.GETITEM: "[ ]", Op.NOT: "¬", Op.AND: "∧", Op.OR: "∨",
    Op.LT: "<", Op.LE: "≤", Op.GT: ">", Op.GE: "≥", Op.EQ: "=", Op.NE: "≠", Op.CONCATENATE: "concat",
    Op.XOR: "⊕", Op.FLOOR_DIV: "//", Op.MOD: "mod", Op.LSHIFT: "<<", Op.RSHIFT: ">>", Op.ARANGE: "arange",
}  # fmt: skip


def pretty(name: str) -> str:
    """A user's name as the book prints it: W1 -> W⁽¹⁾, y_hat -> ŷ, lambda -> λ; the part after the first
    underscore becomes a subscript (J_MLE -> J with MLE below), marked here as name_sub for `html_label`."""
    if name in GREEK:
        return GREEK[name]
    hat = HAT.match(name)
    if hat:
        return unicodedata.normalize("NFC", hat["base"] + "\u0302")  # y -> ŷ (one character where one exists)
    numbered = NUMBERED.match(name)
    if numbered:
        return pretty(numbered["base"]) + f"({numbered['num']})".translate(SUPERSCRIPT)
    if "_" in name.strip("_"):
        base, sub = name.split("_", 1)
        return f"{pretty(base)}_{{{sub}}}"
    return name


def html_label(text: str) -> str:
    """Graphviz label text: plain where possible, an HTML-like label (<...>) where it has x_{sub} parts or
    characters DOT would read as markup or escapes (a user's name `<b>`, `a\\b` or `say "hi"`)."""
    if "_{" not in text:
        return f"<{html.escape(text)}>" if any(c in text for c in MARKUP) else text
    out, rest = [], text
    while "_{" in rest:
        head, tail = rest.split("_{", 1)
        sub, rest = tail.split("}", 1) if "}" in tail else (tail, "")
        out.append(f"{html.escape(head)}<SUB>{html.escape(sub)}</SUB>")
    out.append(html.escape(rest))
    return "<" + "".join(out) + ">"


def dot_text(text: str) -> str:
    """Plain label text for DOT: a backslash is shown as itself (DOT reads \\n, \\N, \\l as escapes), a
    newline becomes a line break."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def plain(text: str) -> str:
    """The label without markup (x_{W} -> x_W): for tooltips, legends and tests."""
    return text.replace("_{", "_").replace("}", "")


def gradient_name(cost: str, wrt: str, scalar: bool) -> str:
    """dz/dw when both are scalars (fig. 6.10), ∇_W J otherwise (fig. 6.11)."""
    if scalar:
        return f"d{cost}/d{wrt}"
    return f"∇_{{{plain(wrt)}}} {cost}"


def constant_text(c: Constant) -> str:
    if c.name:
        return pretty(c.name)
    if c.value.size == 1:
        v = c.value.reshape(()).item()
        if isinstance(v, float) and float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.4g}" if isinstance(v, float) else str(v)
    if c.value.size <= 4 and c.value.ndim == 1:
        return "[" + ", ".join(f"{x:.3g}" for x in c.value.tolist()) + "]"
    return f"const{tuple(c.value.shape)}"


def is_square(node: Node) -> bool:
    """x*x or x**2: the book's 'sqr'."""
    if node.op is Op.MUL:
        return node.inputs[0] is node.inputs[1]
    if node.op is Op.POW:
        e = node.inputs[1]
        return isinstance(e, Constant) and e.value.size == 1 and float(e.value.reshape(())) == 2.0
    return False


def shown_inputs(node: Node) -> list[Variable]:
    """The inputs a book drawing connects: x*x and x**2 read x once; sqr's exponent is in its name."""
    if is_square(node):
        return [node.inputs[0]]
    seen: list[Variable] = []
    for v in node.inputs:
        if all(v is not s for s in seen):
            seen.append(v)
    return seen


def op_symbol(node: Node) -> str:
    """The operation's name as the book writes it on the arrows into the value it makes."""
    op = node.op
    if is_square(node):
        return "sqr"
    if op is Op.MATMUL and any(v.type.ndim == 1 for v in node.inputs):
        return "dot"
    if op is Op.SCALAR_FN:
        fn = node.params["fn"]
        name = getattr(fn, "name", "fn")
        derivative = DERIVATIVE.match(name)
        if derivative and len(getattr(fn, "symbols", ())) == 1:
            return derivative["f"] + "′"  # gc.elementwise's sympy derivative df_dx of a one-argument f: f′
        return name
    if op in OP_SYMBOLS:
        return OP_SYMBOLS[op]
    if op in (Op.SUM, Op.MEAN, Op.MAX, Op.MIN, Op.PROD) and node.inputs[0].type.ndim > 1:
        axis = node.params.get("axis")
        if axis is not None and len(axis) < node.inputs[0].type.ndim:
            return f"{op.value}{list(axis)}"
    if op is Op.CAST:
        return f"cast {np.dtype(node.params['dtype']).name}"
    return op.value


def op_box_text(node: Node) -> str:
    """The ops-style box label: the op and its parameters (PyTensor's pydotprint shows the Op this way)."""
    shown = []
    for key, value in node.params.items():
        if key in ("kernel", "fn"):
            continue
        text = getattr(value, "name", value)
        shown.append(f"{key}={text}")
    name = op_symbol(node) if node.op is Op.SCALAR_FN else node.op.value
    return name + (f"\n{', '.join(shown)}" if shown else "")
