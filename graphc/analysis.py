"""gc.to_networkx: a graph as a networkx.DiGraph, to analyse with the library people know (paths, counts by
op, one stage against another). User layer: a Function's stages are found as gc.viz finds them; networkx is
imported only when this is called, and nothing on compile's path calls it.

    >>> import collections, graphc as gc
    >>> x = gc.vector("x")
    >>> f = gc.function([x], (gc.tanh(x) * 2 + 1).sum())
    >>> before, after = gc.to_networkx(f), gc.to_networkx(f, stage="fusion")
    >>> sorted(collections.Counter(op for _, op in before.nodes(data="op") if op).items())
    [('add', 1), ('mul', 1), ('sum', 1), ('tanh', 1)]
    >>> [op for _, op in after.nodes(data="op") if op]
    ['fused']
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import GraphcError
from .fgraph import FunctionGraph
from .graph import Constant, Node, SharedVariable, Variable, toposort

__all__ = ["to_networkx"]


def __dir__() -> list[str]:  # tab completion shows the public names only
    return sorted(__all__)


def to_networkx(graph, stage=None):
    """A networkx.DiGraph of `graph` (a Variable, a list of them, a FunctionGraph or a compiled Function at
    `stage`, as gc.viz.to_dot takes it).

    Nodes are graphc's own objects: each operation's Node, and each leaf Variable (input, shared variable,
    constant) it reads. Node attributes: kind ("op", "input", "shared", "constant"), op (the op's name; None
    for leaves), params, type (a Type; a tuple of them for several outputs), name, origin ("file:line" where
    the user built it, or None). An edge u -> v says v reads a value of u, at the input positions
    `positions`. G.graph holds "outputs" (the nodes making each output, in order), "updates" ((shared
    variable, node making its new value) pairs) and "stage".

    >>> x = gc.vector("x")
    >>> G = gc.to_networkx(gc.exp(x) + 1)
    >>> sorted((G.nodes[n]["kind"], G.nodes[n]["op"]) for n in G)
    [('constant', None), ('input', None), ('op', 'add'), ('op', 'exp')]
    """
    import networkx as nx

    roots, updates = _roots(graph, stage)
    G = nx.DiGraph(stage=stage)

    def key(v: Variable):
        if v.owner is not None:
            return v.owner
        if v not in G:
            kind = (
                "shared"
                if isinstance(v, SharedVariable)
                else "constant"
                if isinstance(v, Constant)
                else "input"
            )
            G.add_node(v, kind=kind, op=None, params={}, type=v.type, name=v.name, origin=None)
        return v

    for node in toposort(roots):
        G.add_node(node, **_attributes(node))
        for position, v in enumerate(node.inputs):
            source = key(v)
            if G.has_edge(source, node):
                G.edges[source, node]["positions"].append(position)
            else:
                G.add_edge(source, node, positions=[position])
    G.graph["outputs"] = [key(v) for v in roots[: len(roots) - len(updates)]]
    G.graph["updates"] = [(key(var), key(value)) for var, value in updates]
    return G


def _attributes(node: Node) -> dict:
    types = tuple(v.type for v in node.outputs)
    names = [v.name for v in node.outputs if v.name]
    return {
        "kind": "op",
        "op": node.op.value,
        "params": dict(node.params),
        "type": types[0] if len(types) == 1 else types,
        "name": names[0] if names else None,
        "origin": f"{node.origin[0]}:{node.origin[1]}" if node.origin else None,
    }


def _roots(graph, stage) -> tuple[list[Variable], list[tuple[SharedVariable, Variable]]]:
    """(every value computed: outputs then update values, the updates) of what the user handed us."""
    if hasattr(graph, "fgraph") and hasattr(graph, "optimized"):  # a compiled Function
        from graphc.viz import stage_graph

        graph = stage_graph(graph, stage)
    elif stage is not None:
        raise GraphcError("gc.to_networkx: stage= applies to a compiled Function (gc.function)")
    if isinstance(graph, FunctionGraph):
        return graph.roots, list(graph.updates)
    if isinstance(graph, Variable):
        return [graph], []
    if isinstance(graph, Sequence) and graph and all(isinstance(v, Variable) for v in graph):
        return list(graph), []
    raise GraphcError(
        f"gc.to_networkx: expected a Variable, a list of them, a FunctionGraph or a Function, got "
        f"{type(graph).__name__}"
    )
