"""Dead-code elimination: drop what no output or update needs. Knows nothing of codegen.

Graphs are immutable and every FunctionGraph lists only the nodes its roots reach, so dead *nodes* vanish by
construction the moment nothing refers to them. What is left to remove is dead work inside what is live:
- updates that write a shared variable's own value back (W -> W) do nothing;
- outputs of a multi-output node (a fused kernel) that nothing reads, with the kernel instructions and kernel
  inputs only they needed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from graphc.fgraph import FunctionGraph
from graphc.graph import Node, Variable, apply
from graphc.kernel import Kernel
from graphc.ops import Op


def prune_kernel(kernel: Kernel, keep: list[int]) -> tuple[Kernel, list[int]]:
    """The kernel computing only outputs `keep` (positions), and the positions of the inputs it reads."""
    n_in = kernel.n_inputs
    live = {kernel.outputs[k] for k in keep}
    for pos in range(n_in + len(kernel.instrs) - 1, n_in - 1, -1):  # backwards: users before their arguments
        if pos in live:
            live.update(kernel.instrs[pos - n_in].args)
    inputs = [i for i in range(n_in) if i in live]
    renumber = {old: new for new, old in enumerate(inputs)}
    instrs = []
    for pos, ins in enumerate(kernel.instrs, start=n_in):
        if pos in live:
            renumber[pos] = len(inputs) + len(instrs)
            instrs.append(replace(ins, args=tuple(renumber[a] for a in ins.args)))
    pruned = Kernel(
        tuple(kernel.input_dtypes[i] for i in inputs),
        tuple(instrs),
        tuple(renumber[kernel.outputs[k]] for k in keep),
        tuple(kernel.reductions[k] for k in keep),
    )
    return pruned, inputs


def dce(fgraph: FunctionGraph) -> tuple[FunctionGraph, dict[str, int]]:
    fired: Counter[str] = Counter()
    used: set[int] = {id(v) for node in fgraph.nodes for v in node.inputs}
    used.update(id(v) for v in fgraph.roots)

    def prune(node: Node, inputs: list[Variable]):
        if node.op is not Op.FUSED:
            return None
        keep = [k for k, out in enumerate(node.outputs) if id(out) in used]
        kernel = node.params["kernel"]
        if len(keep) == len(node.outputs):
            return None
        pruned, kept_inputs = prune_kernel(kernel, keep)
        fired["dead_kernel_output"] += len(node.outputs) - len(keep)
        fired["dead_kernel_instr"] += len(kernel.instrs) - len(pruned.instrs)
        built = apply(Op.FUSED, [inputs[i] for i in kept_inputs], origin=node.origin, kernel=pruned)
        built = built if isinstance(built, tuple) else (built,)
        new_outputs = list(node.outputs)  # unread outputs keep their old variable: nothing refers to them
        for k, out in zip(keep, built, strict=True):
            new_outputs[k] = out
        return new_outputs

    graph = fgraph.rebuild(prune)
    updates = [(var, value) for var, value in graph.updates if value is not var]
    fired["noop_update"] += len(graph.updates) - len(updates)
    graph = FunctionGraph(graph.inputs, graph.outputs, updates)
    return graph, {k: v for k, v in fired.items() if v}
