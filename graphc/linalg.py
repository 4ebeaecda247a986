"""Linear-algebra conveniences with NumPy's names and semantics: einsum, tensordot, var, std, norm. Core
layer; composites of transpose, reshape, matmul, broadcasting products and reductions, so gradients, fusion
and every backend come for free.

    >>> import numpy as np, graphc as gc
    >>> a, b = gc.tensor("a", ("n", 2, 3)), gc.tensor("b", ("n", 3, 4))
    >>> c = gc.einsum("bij,bjk->bik", a, b)          # one batched matmul node: as fast as a @ b
    >>> c.owner.op.name, c.type.shape
    ('MATMUL', (n, 2, 4))

einsum contracts two operands at a time, left to right: letters both share and the result (or a later
operand) needs are batch axes, the ones no one else needs are summed inside one matrix product, and a letter
only one operand has is summed first. A repeated letter in one operand ("ii->i") takes a diagonal (known
sizes only).
"""

from __future__ import annotations

import math
import string

import numpy as np

from .errors import InputError, ShapeError
from .graph import Variable, as_variable
from .operators import normalize_axes
from .ops import describe
from .origin import here
from .tensor import abs_, cast, gt, matmul, max_, mean, min_, mul, neq, reshape, size, sqrt, sum_, where
from .types import dim_product, dims_equal


# --- einsum ------------------------------------------------------------------------------------------------
def einsum(spec: str, *operands) -> Variable:
    """np.einsum for graph values: "ij,jk->ik" (matrix product), "bij,bjk->bik", "ii->" (trace),
    "...ij->...ji", implicit outputs ("ij,jk" is "ij,jk->ik"), any number of operands.

        >>> import numpy as np, graphc as gc
        >>> x, y = gc.matrix("x", (2, 3)), gc.matrix("y", (3, 2))
        >>> gc.function([x, y], gc.einsum("ij,jk->ik", x, y))(np.ones((2, 3)), np.ones((3, 2))).tolist()
        [[3.0, 3.0], [3.0, 3.0]]
    """
    xs = [as_variable(x) for x in operands]
    inputs, output = _parse(spec, xs)
    terms = [_diagonals(x, letters) for x, letters in zip(xs, inputs, strict=True)]
    for k, (x, letters) in enumerate(terms):  # letters nobody else needs: summed before any product
        others = set(output).union(*(t[1] for j, t in enumerate(terms) if j != k))
        terms[k] = _sum_letters(x, letters, [c for c in letters if c not in others])
    x, letters = terms[0]
    for k in range(1, len(terms)):
        later = set(output).union(*(t[1] for t in terms[k + 1 :]))
        x, letters = _contract(x, letters, *terms[k], keep=later)
    x, letters = _sum_letters(x, letters, [c for c in letters if c not in output])
    return _permute(x, letters, output)


def _parse(spec: str, xs: list[Variable]) -> tuple[list[str], str]:
    """The letters of each operand and of the result, "..." replaced by capital letters (its axes)."""
    spec = spec.replace(" ", "")
    lhs, arrow, rhs = spec.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(xs):
        raise InputError(f"einsum: {spec!r} names {len(inputs)} operands, got {len(xs)}{here()}")
    with_dots = [(x, s) for x, s in zip(xs, inputs, strict=True) if "..." in s]
    dots = max((x.type.ndim - len(s.replace("...", "")) for x, s in with_dots), default=0)
    filler = string.ascii_uppercase[:dots]
    expanded = []
    for x, letters in zip(xs, inputs, strict=True):
        if "..." in letters:
            own = x.type.ndim - len(letters.replace("...", ""))
            letters = letters.replace("...", filler[dots - own :] if own else "")
        if len(letters) != x.type.ndim or not all(c in string.ascii_letters for c in letters):
            raise ShapeError(
                f"einsum: {letters!r} does not name the {x.type.ndim} axes of {describe(x)}{here()}"
            )
        expanded.append(letters)
    if arrow:
        output = rhs.replace("...", filler)
    else:
        counts = {c: "".join(expanded).count(c) for c in "".join(expanded)}
        output = filler + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in filler))
    if len(set(output)) != len(output) or not set(output) <= set("".join(expanded)):
        raise InputError(f"einsum: the output {rhs!r} of {spec!r} must name distinct input letters{here()}")
    _check_sizes(xs, expanded, spec)
    return expanded, output


def _check_sizes(xs, letters_of, spec) -> None:
    sizes: dict[str, object] = {}
    for x, letters in zip(xs, letters_of, strict=True):
        for c, d in zip(letters, x.type.shape, strict=True):
            seen = sizes.setdefault(c, d)
            if not dims_equal(seen, d) and 1 not in (seen, d):
                raise ShapeError(
                    f"einsum {spec!r}: {c!r} is {seen} in one operand and {d} in {describe(x)}{here()}"
                )
            if seen == 1:
                sizes[c] = d


def _diagonals(x: Variable, letters: str) -> tuple[Variable, str]:
    """Repeated letters of one operand ("ii") -> its diagonal, one axis per letter."""
    while len(set(letters)) < len(letters):
        c = next(c for c in letters if letters.count(c) > 1)
        i, j = letters.index(c), letters.index(c, letters.index(c) + 1)
        n = x.type.shape[i]
        if not isinstance(n, int) or not dims_equal(n, x.type.shape[j]):
            raise ShapeError(f"einsum: the diagonal {c}{c} of {describe(x)} needs equal known sizes{here()}")
        rest = [k for k in range(len(letters)) if k not in (i, j)]
        x = x.transpose(*rest, i, j) if rest or (i, j) != (0, 1) else x
        x = reshape(x, x.type.shape[:-2] + (n * n,))[..., :: n + 1]  # entries (k, k) of the last two axes
        letters = "".join(letters[k] for k in rest) + c
    return x, letters


def _sum_letters(x: Variable, letters: str, gone) -> tuple[Variable, str]:
    if not gone:
        return x, letters
    return sum_(x, axis=tuple(letters.index(c) for c in gone)), "".join(c for c in letters if c not in gone)


def _permute(x: Variable, letters: str, order: str) -> Variable:
    return x.transpose(*(letters.index(c) for c in order)) if letters != order else x


def _contract(a: Variable, la: str, b: Variable, lb: str, keep: set) -> tuple[Variable, str]:
    """a and b over their shared letters: batch (kept), contracted (summed), each one's own letters."""
    shared = [c for c in la if c in lb]
    batch = [c for c in shared if c in keep]
    summed = [c for c in shared if c not in keep]
    a_own, b_own = [c for c in la if c not in lb], [c for c in lb if c not in la]
    if not summed:  # no sum: a broadcasting product (an outer or elementwise product)
        letters = "".join(batch + a_own + b_own)
        return mul(_spread(a, la, letters), _spread(b, lb, letters)), letters
    a = _permute(a, la, "".join(batch + a_own + summed))
    b = _permute(b, lb, "".join(batch + summed + b_own))
    nb = len(batch)
    a_shape, b_shape = a.type.shape, b.type.shape
    rows, inner = dim_product(a_shape[nb : nb + len(a_own)]), dim_product(a_shape[nb + len(a_own) :])
    cols = dim_product(b_shape[nb + len(summed) :])
    product = matmul(reshape(a, a_shape[:nb] + (rows, inner)), reshape(b, b_shape[:nb] + (inner, cols)))
    batch_shape = product.type.shape[:nb]
    out = reshape(product, batch_shape + a_shape[nb : nb + len(a_own)] + b_shape[nb + len(summed) :])
    return out, "".join(batch + a_own + b_own)


def _spread(x: Variable, letters: str, order: str) -> Variable:
    """x's axes in `order`, with size-1 axes for the letters it lacks (it broadcasts)."""
    mine = "".join(c for c in order if c in letters)
    x = _permute(x, letters, mine)
    return reshape(x, tuple(x.type.shape[mine.index(c)] if c in mine else 1 for c in order))


def tensordot(a, b, axes=2) -> Variable:
    """np.tensordot: sum over the last `axes` axes of a and the first of b, or over the axes given as two
    lists; the result has a's other axes, then b's.

        >>> import numpy as np, graphc as gc
        >>> a, b = gc.tensor("a", (2, 3, 4)), gc.tensor("b", (3, 4, 5))
        >>> gc.tensordot(a, b).type.shape
        (2, 5)
    """
    a, b = as_variable(a), as_variable(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        axes = (list(range(a.type.ndim - n, a.type.ndim)), list(range(n)))
    in_a, in_b = ([axes_] if isinstance(axes_, (int, np.integer)) else list(axes_) for axes_ in axes)
    in_a = [int(k) % a.type.ndim for k in in_a]
    in_b = [int(k) % b.type.ndim for k in in_b]
    if len(in_a) != len(in_b):
        raise ShapeError(
            f"tensordot: {len(in_a)} axes of {describe(a)} against {len(in_b)} of {describe(b)}{here()}"
        )
    letters = iter(string.ascii_letters)
    la = "".join(next(letters) for _ in range(a.type.ndim))
    lb = [next(letters) for _ in range(b.type.ndim)]
    for i, j in zip(in_a, in_b, strict=True):
        lb[j] = la[i]
    lb = "".join(lb)
    out = "".join(c for k, c in enumerate(la) if k not in in_a) + "".join(
        c for k, c in enumerate(lb) if k not in in_b
    )
    return einsum(f"{la},{lb}->{out}", a, b)


# --- statistics and norms ----------------------------------------------------------------------------------
def _float(x: Variable) -> Variable:
    return x if x.type.dtype.kind == "f" else cast(x, "float64")


def var(x, axis=None, ddof: int = 0, keepdims: bool = False) -> Variable:
    """np.var: the mean squared deviation from the mean over `axis`, divided by n - ddof instead of n (ddof=1:
    the unbiased estimate). Named sizes are counted at call time.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> float(gc.function([x], gc.var(x, ddof=1))(np.array([1.0, 2.0, 3.0, 4.0])))
        1.6666666666666667
    """
    x = _float(as_variable(x))
    axes = normalize_axes(x, axis, "var")
    deviation = x - mean(x, axis=axes, keepdims=True)
    squares = deviation * deviation
    if not ddof:
        return mean(squares, axis=axes, keepdims=keepdims)
    dims = [x.type.shape[a] for a in axes]
    count = math.prod(dims) if all(isinstance(d, int) for d in dims) else size(x, axes, x.type.dtype)
    return sum_(squares, axis=axes, keepdims=keepdims) / (count - ddof)


def std(x, axis=None, ddof: int = 0, keepdims: bool = False) -> Variable:
    """np.std: the square root of var(x, axis, ddof).

    >>> import numpy as np, graphc as gc
    >>> x = gc.vector("x")
    >>> float(gc.function([x], gc.std(x))(np.array([1.0, 3.0])))
    1.0
    """
    return sqrt(var(x, axis, ddof, keepdims))


def _safe_sqrt(s: Variable) -> Variable:
    """sqrt(s) whose gradient is 0 at s = 0 (PyTorch's norm there), not inf·0 = NaN."""
    positive = gt(s, 0)
    return where(positive, sqrt(where(positive, s, 1)), 0)


def norm(x, ord=None, axis=None, keepdims: bool = False) -> Variable:  # noqa: A002 - NumPy's name
    """np.linalg.norm. Vector norms (axis an int, or a 1-D x): ord None or 2 (Euclidean), 1, inf, -inf, 0
    (the count of nonzeros) or any other p (Σ|x|ᵖ)^(1/p). Matrix norms (axis a pair, or a 2-D x with ord):
    "fro" (the default), 1, -1, inf, -inf. With ord None and axis None, the 2-norm of every entry. The
    gradient of a 2-norm at 0 is 0.

        >>> import numpy as np, graphc as gc
        >>> x = gc.vector("x")
        >>> gc.function([x], [gc.norm(x), gc.norm(x, 1), gc.norm(x, np.inf)])(np.array([3.0, -4.0]))
        (array(5.), array(7.), array(4.))
    """
    x = _float(as_variable(x))
    if axis is None:
        if ord is None:  # every entry, whatever the rank
            return _safe_sqrt(sum_(x * x, axis=None, keepdims=keepdims))
        if x.type.ndim not in (1, 2):
            raise ShapeError(f"norm: ord={ord!r} needs axis for {describe(x)} (1-D or 2-D only){here()}")
        axis = tuple(range(x.type.ndim))
    axes = normalize_axes(x, axis, "norm")
    axes = axes if isinstance(axis, (int, np.integer)) else tuple(int(a) % x.type.ndim for a in axis)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix_norm(x, "fro" if ord is None else ord, axes, keepdims)
    raise ShapeError(f"norm: axis must be an int or a pair, got {axis!r} for {describe(x)}{here()}")


def _vector_norm(x: Variable, ord, axes, keepdims) -> Variable:  # noqa: A002
    if ord in (None, 2, "fro"):
        return _safe_sqrt(sum_(x * x, axis=axes, keepdims=keepdims))
    magnitude = abs_(x)
    if ord == np.inf:
        return max_(magnitude, axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return min_(magnitude, axis=axes, keepdims=keepdims)
    if ord == 0:
        return sum_(cast(neq(x, 0), x.type.dtype), axis=axes, keepdims=keepdims)
    if ord == 1:
        return sum_(magnitude, axis=axes, keepdims=keepdims)
    if isinstance(ord, str):
        raise InputError(f"norm: ord={ord!r} is a matrix norm; give axis as a pair{here()}")
    p = float(ord)
    return sum_(magnitude**p, axis=axes, keepdims=keepdims) ** (1.0 / p)


def _matrix_norm(x: Variable, ord, axes, keepdims) -> Variable:  # noqa: A002
    rows, cols = axes
    if ord == "fro":
        return _safe_sqrt(sum_(x * x, axis=axes, keepdims=keepdims))
    if ord in ("nuc", 2, -2):
        raise InputError(f"norm: ord={ord!r} needs singular values, which graphc does not compute{here()}")
    if ord not in (1, -1, np.inf, -np.inf):
        raise InputError(f"norm: invalid matrix norm ord={ord!r}{here()}")
    over, then = (rows, cols) if ord in (1, -1) else (cols, rows)  # 1: max column sum; inf: max row sum
    sums = sum_(abs_(x), axis=over, keepdims=True)
    out = (max_ if ord in (1, np.inf) else min_)(sums, axis=then, keepdims=True)
    return out if keepdims else reshape(out, tuple(d for k, d in enumerate(out.type.shape) if k not in axes))


__all__ = ["einsum", "tensordot", "var", "std", "norm"]
