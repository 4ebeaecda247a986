"""The CPython boundary: ``graphc_entry(tuple, extra sizes...)`` reads each array's data pointer, and the
sizes the inputs' shapes give, straight from the Python objects, then calls the graph's main function. Knows
IR and object layouts, not ops.
"""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from graphc.dims import Size

from . import loops
from .scalar import I8, I64
from .views import const

I8P = I8.as_pointer()
# CPython and NumPy object layouts (checked at import by ``runtime.LAYOUT_OK`` before any entry is called)
TUPLE_ITEMS_OFFSET = 24  # PyTupleObject: refcount, type, size, then ob_item[]
ARRAY_DATA_OFFSET = 16  # PyArrayObject: refcount, type, then char *data, int nd, npy_intp *dimensions
ARRAY_DIMS_OFFSET = 32


@dataclass
class Entry:
    """What Python needs to call the entry: where each named size is read (input position, axis), and the
    sizes it must pass itself, in order (names no input has, then the derived expressions)."""

    binding: dict
    arg_exprs: list


def python_entry(module: ir.Module, main: ir.Function, n_pointers: int, inputs, symbols, derived) -> Entry:
    """Emit ``i64 graphc_entry(PyObject* arrays, i64 sizes...)`` calling ``main(ptrs, dims)``; the arrays'
    layouts were checked by the caller (gc.function: dtype, rank, sizes, C-contiguity)."""
    binding: dict = {}
    for pos, var in enumerate(inputs):
        for axis, d in enumerate(var.type.shape):
            if isinstance(d, Size):
                binding.setdefault(d, (pos, axis))
    arg_exprs = [s for s in symbols if s not in binding] + list(derived)
    fn = ir.Function(module, ir.FunctionType(I64, [I8P] + [I64] * len(arg_exprs)), "graphc_entry")
    threads = ir.GlobalVariable(module, I64, name="graphc_nthreads")
    threads.initializer = const(1)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ptrs = b.alloca(I8P, size=const(max(1, n_pointers)))
    dims = b.alloca(I64, size=const(1 + len(symbols) + len(derived)))

    def item(k: int, offset: int) -> ir.Value:
        obj = b.load(b.bitcast(b.gep(fn.args[0], [const(TUPLE_ITEMS_OFFSET + 8 * k)]), I8P.as_pointer()))
        return b.load(b.bitcast(b.gep(obj, [const(offset)]), I8P.as_pointer()))

    # One loop over the tuple, not a load per array: a function of 10,000 inputs has a short entry too.
    items = b.bitcast(b.gep(fn.args[0], [const(TUPLE_ITEMS_OFFSET)]), I8P.as_pointer())
    with loops.for_range(b, n_pointers, name="k") as k:
        data = b.gep(b.load(b.gep(items, [k])), [const(ARRAY_DATA_OFFSET)])
        b.store(b.load(b.bitcast(data, I8P.as_pointer())), b.gep(ptrs, [k]))
    values = [b.load(threads)]
    args = iter(fn.args[1:])
    for sym in symbols:
        if sym in binding:
            pos, axis = binding[sym]
            shape = b.bitcast(item(pos, ARRAY_DIMS_OFFSET), I64.as_pointer())
            values.append(b.load(b.gep(shape, [const(axis)])))
        else:
            values.append(next(args))
    values.extend(args)
    for k, value in enumerate(values):
        b.store(value, b.gep(dims, [const(k)]))
    b.ret(b.call(main, [ptrs, dims]))
    return Entry(binding, arg_exprs)


__all__ = ["Entry", "python_entry"]
