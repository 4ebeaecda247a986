"""The computational graphs of Goodfellow, Bengio & Courville, *Deep Learning*, §6.5 and §10.1, by gc.viz.

    python examples/book_figures.py                    # writes book_figures/*.svg and *.png (needs dot)
    python examples/book_figures.py --out docs/figures # regenerates the README's figures (tracked files)
    python examples/book_figures.py --dot              # only prints the DOT sources (no dot needed)

Each FIGURES entry builds one graph with graphc and returns what gc.viz.to_dot takes; tests/test_viz.py reads
the same builders and checks the drawings' nodes, edges and labels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import sympy

import graphc as gc


def named(var: gc.Variable, name: str) -> gc.Variable:
    var.name = name
    return var


def fig_6_8a():
    """(a) z = x·y: one multiplication."""
    x, y = gc.scalar("x"), gc.scalar("y")
    return named(x * y, "z"), {}


def fig_6_8b():
    """(b) logistic regression ŷ = σ(xᵀw + b): u⁽¹⁾ = dot, u⁽²⁾ = +, then σ."""
    x, w, b = gc.vector("x", 3), gc.vector("w", 3), gc.scalar("b")
    return named(gc.sigmoid(gc.dot(x, w) + b), "y_hat"), {}


def fig_6_8c():
    """(c) a layer of rectified linear units H = max{0, XW + b}."""
    X, W, b = (
        gc.matrix("X", ("n", 4)),
        gc.shared(np.zeros((4, 3)), name="W"),
        gc.shared(np.zeros(3), name="b"),
    )
    return named(gc.relu(gc.matmul(X, W) + b), "H"), {}


def fig_6_8d():
    """(d) linear regression ŷ = xᵀw and the weight-decay penalty λΣw²: w is used twice."""
    x, w = gc.vector("x", 3), gc.vector("w", 3)
    y_hat = named(gc.dot(x, w), "y_hat")
    lam = gc.constant(0.01, name="lambda")
    penalty = lam * gc.sum(gc.square(w))
    return [y_hat, penalty], {}


F = gc.elementwise("f", lambda x: sympy.tanh(x))  # the book's generic f; gc.grad derives f′ with sympy


def _chain():
    w = gc.scalar("w")
    x = named(F(w), "x")
    y = named(F(x), "y")
    z = named(F(y), "z")
    return w, x, y, z


def fig_6_9():
    """z = f(f(f(w))): x = f(w) and y = f(x) are stored, so the gradient can reuse them."""
    return _chain()[3], {}


def fig_6_10():
    """Symbol-to-symbol: the derivatives dz/dy, dz/dx, dz/dw are more nodes of the same graph."""
    w, x, y, z = _chain()
    gy, gx, gw = gc.grad(z, [y, x, w])
    return z, {"grads": {y: gy, x: gx, w: gw}}


def _mlp():
    """Fig. 6.11: U⁽¹⁾ = XW⁽¹⁾, H = relu(U⁽¹⁾), U⁽²⁾ = HW⁽²⁾,
    J = cross_entropy(U⁽²⁾, y) + λ(Σ W⁽¹⁾² + Σ W⁽²⁾²)."""
    rng = np.random.default_rng(0)
    X, y = gc.matrix("X", ("n", 4)), gc.vector("y", "n", dtype="int64")
    W1 = gc.shared(rng.normal(size=(4, 5)), name="W1")
    W2 = gc.shared(rng.normal(size=(5, 3)), name="W2")
    U1 = named(gc.matmul(X, W1), "U1")
    H = named(gc.relu(U1), "H")
    U2 = named(gc.matmul(H, W2), "U2")
    J_MLE = named(gc.nn.softmax_cross_entropy(U2, y), "J_MLE")
    lam = gc.constant(1e-3, name="lambda")
    J = named(J_MLE + lam * (gc.sum(gc.square(W1)) + gc.sum(gc.square(W2))), "J")
    return {"X": X, "y": y, "W1": W1, "W2": W2, "U1": U1, "H": H, "U2": U2, "J_MLE": J_MLE, "J": J}


def fig_6_11():
    """The MLP's forward graph, the cross-entropy composite drawn as one operation."""
    m = _mlp()
    return m["J"], {"collapse": {m["J_MLE"]: "cross_entropy"}}


def fig_6_11_backward():
    """The MLP with its backward graph (gc.grad): ∇_W⁽¹⁾ J and ∇_W⁽²⁾ J reuse the forward values. Asking for
    the gradients of U⁽²⁾, H and U⁽¹⁾ as well names Alg. 6.4's intermediate g's: one backward pass computes
    them all, so they are nodes of the same graph."""
    m = _mlp()
    wrt = [m["W1"], m["W2"], m["U2"], m["H"], m["U1"]]
    return m["J"], {"grads": dict(zip(wrt, gc.grad(m["J"], wrt), strict=True))}


def fig_6_11_fused():
    """One SGD step of the MLP compiled by gc.function, drawn after the fusion pass: each fused kernel is a
    cluster showing its scalar body; the dashed arrows are the parameter updates."""
    m = _mlp()
    W1, W2 = m["W1"], m["W2"]
    gW1, gW2 = gc.grad(m["J"], [W1, W2])
    step = gc.function([m["X"], m["y"]], m["J"], updates={W1: W1 - 0.1 * gW1, W2: W2 - 0.1 * gW2})
    return step, {"stage": "after fusion", "style": "ops"}


def _rnn(with_outputs: bool):
    """The book's RNN (eqs. 10.8-10.9, row vectors): h⁽ᵗ⁾ = tanh(b + h⁽ᵗ⁻¹⁾W + x⁽ᵗ⁾U), o⁽ᵗ⁾ = c + h⁽ᵗ⁾V."""
    rng = np.random.default_rng(0)
    W, U, V = (gc.shared(rng.normal(size=shape) * 0.5, name=n) for n, shape in
               (("W", (3, 3)), ("U", (2, 3)), ("V", (3, 2))))  # fmt: skip
    b, c = gc.shared(np.zeros(3), name="b"), gc.shared(np.zeros(2), name="c")
    xs, h0 = gc.tensor("xs", ("T", 2)), gc.tensor("h0", (3,))

    def step(h, x):
        h = gc.tanh(b + h @ W + x @ U)
        return h, (c + h @ V if with_outputs else None)

    h_last, o = gc.scan(step, h0, xs)
    return named(o, "o") if with_outputs else named(h_last, "h_T")


def fig_10_2():
    """(left) A recurrent network folded: the cell h⁽ᵗ⁾ = f(h⁽ᵗ⁻¹⁾, x⁽ᵗ⁾; θ) drawn once, the black square a
    delay of one step; gc.scan keeps it folded in the graph too."""
    return _rnn(with_outputs=False), {}


def fig_10_3():
    """The RNN with outputs o⁽ᵗ⁾, unfolded for three steps (unroll=3): the same W, U, V at every step."""
    return _rnn(with_outputs=True), {"unroll": 3}


FIGURES = {
    "fig_6_8a": fig_6_8a,
    "fig_6_8b": fig_6_8b,
    "fig_6_8c": fig_6_8c,
    "fig_6_8d": fig_6_8d,
    "fig_6_9": fig_6_9,
    "fig_6_10": fig_6_10,
    "fig_6_11": fig_6_11,
    "fig_6_11_backward": fig_6_11_backward,
    "fig_6_11_fused": fig_6_11_fused,
    "fig_10_2": fig_10_2,
    "fig_10_3": fig_10_3,
}


def main(argv: list[str] | None = None) -> Path | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("book_figures"), help="folder for the drawings")
    parser.add_argument("--dot", action="store_true", help="print the DOT sources instead (no dot needed)")
    args = parser.parse_args(argv)
    if not args.dot:
        args.out.mkdir(parents=True, exist_ok=True)
    for name, build in FIGURES.items():
        graph, options = build()
        if args.dot:
            print(f"// {name}: {build.__doc__.splitlines()[0]}\n{gc.viz.to_dot(graph, **options)}")
            continue
        for ext in ("svg", "png"):
            gc.viz.render(graph, path=args.out / f"{name}.{ext}", **options)
        print(f"{name}: {args.out / name}.svg, .png")
    return None if args.dot else args.out


if __name__ == "__main__":
    main()
