"""Random programs for the differential fuzzer: a seeded generator and three evaluators of the same program
(graphc, NumPy, JAX), so that each backend is compared with references written independently of graphc.

A program is a list of steps over numbered values ("input" steps read the inputs). Each step names a row of
fuzz.ops.OPS and its params in plain data (axes, constants, slices). The generator evaluates each step with
NumPy and builds it with graphc as it goes, and keeps the steps both accept (a step NumPy refuses ends the
program: every backend must refuse it too).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

import graphc as gc

from .ops import BINARY, GRAD_UNSAFE, INTEGER, OPS, REDUCE, SHAPE, UNARY, NumpyAPI

SIZES = {"n": (0, 1, 2, 3, 5, 5), "m": (2, 3, 4)}  # named sizes and the values a program may bind them to
FIXED = (1, 2, 3, 4)
CONSTANTS = (0.5, 2.0, -1.0, 0.0, 1e-3, 3.0)


@dataclass
class Input:
    name: str
    decl: tuple  # declared shape: ints and names
    dtype: str
    edge: bool = False  # the first entries are nan, inf, -inf, 0, -0, huge and tiny


@dataclass
class Program:
    seed: int
    sizes: dict[str, int]
    inputs: list[Input] = field(default_factory=list)
    steps: list[tuple] = field(default_factory=list)  # (op name, value indices, params)
    outputs: list[int] = field(default_factory=list)
    grad: bool = False  # outputs are then a cost and its gradient with respect to the float inputs
    weights_seed: int = 0

    def describe(self) -> str:
        lines = [f"seed {self.seed}: sizes {self.sizes}, grad={self.grad}"]
        for i, (op, args, params) in enumerate(self.steps):
            if op == "input":
                p = self.inputs[params["k"]]
                lines.append(
                    f"  v{i} = input {p.name} {p.decl} {p.dtype}{' (edge values)' if p.edge else ''}"
                )
            else:
                lines.append(f"  v{i} = {op}({', '.join(f'v{a}' for a in args)}) {params or ''}")
        lines.append(f"  outputs: {', '.join(f'v{o}' for o in self.outputs)}")
        return "\n".join(lines)


def evaluate(program: Program, api, inputs: list) -> list:
    """Every value of the program, with `api`'s functions ("input" steps read `inputs`)."""
    values: list = []
    for op, args, params in program.steps:
        if op == "input":
            values.append(inputs[params["k"]])
        else:
            values.append(OPS[op](api, *(values[a] for a in args), **params))
    return values


# --- the generator ------------------------------------------------------------------------------------------
class _Builder:
    """The program being generated, with each value's NumPy array and graphc Variable (for its type)."""

    def __init__(self, seed: int):
        self.rng = rng = np.random.default_rng(seed)
        sizes = {name: int(rng.choice(choices)) for name, choices in SIZES.items()}
        self.grad = bool(rng.random() < 0.4)
        self.dtype = "float32" if rng.random() < 0.3 else "float64"
        self.program = Program(seed, sizes, grad=self.grad, weights_seed=seed + 1)
        self.arrays: list[np.ndarray] = []
        self.edge = False  # an input holds nan, inf, ...
        self.refused = False  # the last step is one NumPy refuses
        self.vars: list = []

    def new_input(self, decl: tuple, dtype: str | None = None) -> int:
        spec = Input(f"x{len(self.program.inputs)}", tuple(decl), dtype or self.dtype)
        spec.edge = not self.grad and self.rng.random() < 0.25
        self.edge |= spec.edge
        self.program.inputs.append(spec)
        return self.push(("input", (), {"k": len(self.program.inputs) - 1}))

    def push(self, step) -> int | None:
        """Add the step if NumPy and graphc both accept it; its value's index, else None."""
        op, args, params = step
        if op == "input":
            spec = self.program.inputs[params["k"]]
            array, var = (
                sample(spec, self.program.sizes, self.rng),
                gc.tensor(spec.name, spec.decl, spec.dtype),
            )
        else:
            try:
                var = OPS[op](gc, *(self.vars[a] for a in args), **params)
            except (gc.GraphcError, TypeError):
                return None  # refused by graphc's rules: the generator keeps to graphs graphc builds
            try:
                with np.errstate(all="ignore"), quiet():
                    array = np.asarray(OPS[op](NumpyAPI(), *(self.arrays[a] for a in args), **params))
            except (ValueError, ZeroDivisionError):  # NumPy refuses (an integer to a negative power...):
                self.refused = True  # the program ends here, and every backend must refuse it too
                self.program.steps.append((op, tuple(args), params))
                return None
            except (IndexError, TypeError):  # SciPy's own limits (logsumexp of some empty shapes)
                return None
            if array.dtype.kind not in "fbi" or array.size > 4096 or array.shape != _concrete(var, self):
                return None
        self.program.steps.append((op, tuple(args), params))
        self.arrays.append(array)
        self.vars.append(var)
        return len(self.arrays) - 1


def _concrete(var, builder: _Builder) -> tuple:
    sizes = {gc.types.symbol(k): v for k, v in builder.program.sizes.items()}
    return tuple(gc.types.concrete_dim(d, sizes) for d in var.type.shape)


def generate(seed: int) -> Program:
    b = _Builder(seed)
    rng = b.rng
    for _ in range(int(rng.integers(1, 3))):
        dims = ("n", "m", *FIXED)
        rank = int(rng.choice([0, 1, 1, 2, 2, 3]))
        b.new_input(tuple(dims[int(rng.integers(len(dims)))] for _ in range(rank)))
    for _ in range(int(rng.integers(4, 16))):
        step = _pick_step(b)
        if step is not None:
            b.push(step)
        if b.refused:
            b.program.outputs = [len(b.program.steps) - 1]
            return b.program
    computed = [i for i, (op, _, _) in enumerate(b.program.steps) if op != "input"]
    floats = [i for i, a in enumerate(b.arrays) if a.dtype.kind == "f"]
    tail = computed or floats[-1:]
    outputs = {tail[-1], *(int(i) for i in rng.choice(tail, size=min(2, len(tail))))}
    if b.grad:
        outputs = {o for o in outputs if b.arrays[o].dtype.kind == "f"} or set(floats[-1:])
    b.program.outputs = sorted(outputs)
    return b.program


def _pick_step(b: _Builder):
    """One step (op, argument indices, params) that fits the value it starts from, or None."""
    rng, arrays = b.rng, b.arrays
    index = int(rng.integers(len(arrays))) if rng.random() < 0.5 else len(arrays) - 1  # recent: deeper
    x, var = arrays[index], b.vars[index]
    if x.dtype.kind != "f":
        return None
    kind = rng.choice(
        ["unary", "binary", "reduce", "shape", "const", "integer"], p=[0.25, 0.3, 0.12, 0.2, 0.08, 0.05]
    )
    if (
        kind == "integer"
    ):  # integer arithmetic on a rounded copy (finite values only: a cast of NaN is undefined)
        if b.edge or b.grad:
            return None
        return (
            "integer",
            (index,),
            {"op": str(rng.choice(list(INTEGER))), "dtype": str(rng.choice(["int32", "int64"]))},
        )
    if kind == "unary":
        op = str(rng.choice([o for o in UNARY if not (b.grad and o in GRAD_UNSAFE)]))
        params = {"p": float(rng.choice([2.0, 0.5, -1.0, 3.0, 0.0, -0.5]))} if op.startswith("pow") else {}
        return op, (index,), params
    if kind == "const":
        how = str(rng.choice(["add", "mul", "rsub", "div"]))
        return "const", (index,), {"c": float(rng.choice(CONSTANTS)), "op": how}
    if kind == "binary":
        op = str(rng.choice([o for o in BINARY if not (b.grad and o in GRAD_UNSAFE)]))
        partner = _broadcast_partner(b, index)
        return None if partner is None else (op, (index, partner), {})
    if kind == "reduce":
        op = str(rng.choice(list(REDUCE)))
        axis = None if x.ndim == 0 or rng.random() < 0.3 else int(rng.integers(x.ndim))
        return op, (index,), {"axis": axis, "keepdims": bool(rng.random() < 0.3)}
    op = str(rng.choice(list(SHAPE)))
    if op in ("flatten", "concat_self") and x.ndim >= 1 or op == "transpose" and x.ndim >= 2:
        return op, (index,), {}
    if op == "expand_dims":
        return op, (index,), {"axis": int(rng.integers(x.ndim + 1))}
    if op == "squeeze" and 1 in var.type.shape:
        return op, (index,), {"axis": var.type.shape.index(1)}
    if op == "slice" and x.ndim >= 1:
        bounds = [(None, None, 2), (1, None, None), (None, None, -1), (1, None, 3), (None, -1, None)]
        start, stop, step = bounds[int(rng.integers(len(bounds)))]
        return op, (index,), {"start": start, "stop": stop, "step": step}
    if op == "stack":
        same = [
            i for i, v in enumerate(b.vars) if v.type.shape == var.type.shape and arrays[i].dtype.kind == "f"
        ]
        return op, (index, int(rng.choice(same))), {}
    if op in ("softmax", "log_softmax", "argmax_where") and x.ndim >= 1:
        return op, (index,), {"axis": int(rng.integers(x.ndim))}
    if op == "matmul" and x.ndim >= 1 and _declarable(var.type.shape[-1]):
        k = _declarable(var.type.shape[-1])
        other = b.new_input((k, int(rng.choice(FIXED))) if rng.random() < 0.7 else (k,), str(x.dtype))
        return None if other is None else (op, (index, other), {})
    if op == "cast":
        return op, (index,), {"dtype": "float32" if x.dtype == np.float64 else "float64"}
    return None


def _declarable(d):
    """A dimension as an input declares it (an int or a name), or None for a size expression."""
    return d if isinstance(d, int) else (d.name if hasattr(d, "name") else None)


def _broadcast_partner(b: _Builder, index: int) -> int | None:
    """A value that broadcasts to the shape of value `index`: an existing one, or a new input."""
    shape = b.vars[index].type.shape
    fits = [
        i for i, v in enumerate(b.vars) if b.arrays[i].dtype.kind == "f" and _broadcasts(v.type.shape, shape)
    ]
    if fits and b.rng.random() < 0.85:
        return int(b.rng.choice(fits))
    decl = [_declarable(d) for d in shape]
    keep = int(b.rng.integers(len(decl) + 1))
    trailing = tuple(1 if b.rng.random() < 0.2 else d for d in decl[len(decl) - keep :])
    if any(d is None for d in trailing):
        return None
    return b.new_input(trailing, str(b.arrays[index].dtype))


def _broadcasts(a: tuple, target: tuple) -> bool:
    try:
        return gc.types.same_shape(gc.types.broadcast_shapes(a, target), target)
    except gc.GraphcError:
        return False


def sample(spec: Input, sizes: dict, rng) -> np.ndarray:
    shape = tuple(sizes.get(d, d) for d in spec.decl)
    values = (rng.normal(size=shape) * rng.choice([1.0, 3.0])).astype(spec.dtype)
    if spec.edge:
        info = np.finfo(spec.dtype)
        extremes = [np.nan, np.inf, -np.inf, 0.0, -0.0, info.max / 2, info.tiny, 1.0]
        flat = values.reshape(-1)
        picks = rng.choice(extremes, size=min(flat.size, int(rng.integers(1, 4))))
        flat[rng.choice(flat.size, size=picks.size, replace=False)] = picks
    return values


def input_arrays(program: Program) -> list[np.ndarray]:
    """The program's input values, drawn again from its seed."""
    rng = np.random.default_rng([program.seed, 7])
    return [sample(spec, program.sizes, rng) for spec in program.inputs]


# --- graphc -------------------------------------------------------------------------------------------------
def graphc_graph(program: Program):
    """(inputs, outputs) as graphc Variables; with `grad`, the outputs are the cost and its gradients."""
    inputs = [gc.tensor(p.name, p.decl, p.dtype) for p in program.inputs]
    values = evaluate(program, gc, inputs)
    outputs = [values[o] for o in program.outputs]
    if not program.grad:
        return inputs, outputs
    cost = cost_of(program, gc, outputs)
    wrt = [v for v in inputs if v.type.dtype.kind == "f"]
    return inputs, [cost, *gc.grad(cost, wrt, disconnected="zero")]


def cost_of(program: Program, api, outputs: list):
    """Σ over the outputs of Σ tanh(a·out + b), in float64 (a, b fixed by the seed): every entry of every
    output gets its own derivative, and the cost stays bounded."""
    rng = np.random.default_rng(program.weights_seed)
    total = 0.0
    for out in outputs:
        a, c = float(rng.uniform(0.3, 1.2)), float(rng.uniform(-0.5, 0.5))
        total = total + api.sum(api.tanh(api.cast(out, "float64") * a + c))
    return total


@contextmanager
def quiet():
    """No warnings (NumPy's "Mean of empty slice"): the reference's values are what is compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
