"""FunctionGraph: what gc.function compiles (inputs, outputs, updates) and the rebuild primitive passes use.

Graphs are never edited in place: `replace` and `rebuild` make new nodes downstream of a change, so the user's
graph (and every earlier stage, for drawing) stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .errors import GraphError
from .graph import Constant, Displayed, Node, SharedVariable, Variable, apply, toposort
from .origin import origin_scope


class FunctionGraph(Displayed):
    """Explicit inputs, outputs, and (shared variable, new value) updates, plus the shared variables read."""

    def __init__(
        self,
        inputs: Sequence[Variable],
        outputs: Sequence[Variable],
        updates: Sequence[tuple[SharedVariable, Variable]] = (),
    ):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.updates = list(updates)
        self._nodes: list[Node] | None = None

    def __repr__(self) -> str:
        """Short: a loop's body shows in node reprs, debugprint and drawings' op boxes."""
        sizes = f"{len(self.inputs)} inputs -> {len(self.outputs)} outputs, {len(self.nodes)} nodes"
        return f"<FunctionGraph {sizes}>"

    # -- structure -------------------------------------------------------------------------------------------
    @property
    def roots(self) -> list[Variable]:
        """Everything computed: the outputs, then the new values of the updated shared variables."""
        return self.outputs + [value for _, value in self.updates]

    @property
    def nodes(self) -> list[Node]:
        """The nodes in topological order (cached; a FunctionGraph never changes after it is made)."""
        if self._nodes is None:
            self._nodes = toposort(self.roots)
        return self._nodes

    @property
    def shared(self) -> list[SharedVariable]:
        """The shared variables read or updated, in first-use order (the order backends take them in)."""
        seen: set[int] = set()
        found: list[SharedVariable] = []

        def add(v: Variable) -> None:
            if isinstance(v, SharedVariable) and id(v) not in seen:
                seen.add(id(v))
                found.append(v)

        for node in self.nodes:
            for v in node.inputs:
                add(v)
        for v in self.roots:
            add(v)
        for var, _ in self.updates:
            add(var)
        return found

    @property
    def constants(self) -> list[Constant]:
        seen: dict[int, Constant] = {}
        for node in self.nodes:
            for v in node.inputs:
                if isinstance(v, Constant):
                    seen.setdefault(id(v), v)
        for v in self.roots:
            if isinstance(v, Constant):
                seen.setdefault(id(v), v)
        return list(seen.values())

    def with_roots(self, roots: Sequence[Variable]) -> FunctionGraph:
        """The same inputs and shared variables with new outputs and update values (same order as `roots`)."""
        n = len(self.outputs)
        return FunctionGraph(
            self.inputs,
            roots[:n],
            [(var, new) for (var, _), new in zip(self.updates, roots[n:], strict=True)],
        )

    # -- rebuilding ------------------------------------------------------------------------------------------
    def rebuild(
        self, rule: Callable[[Node, list[Variable]], Sequence[Variable] | None], order: Iterable | None = None
    ) -> FunctionGraph:
        """One linear walk: each node, with its inputs already rebuilt, is offered to `rule`.

        `rule(node, new_inputs)` returns replacement outputs (one per node output) or None to keep the node
        (rebuilt only if an input changed). Replacements take the node's origin, so errors still point at the
        user's line. `order` (default: the nodes in topological order) may instead list *units* that stand
        for several nodes at once (fusion's groups): anything with `inputs`, `outputs` (the old variables it
        replaces) and `origin`, each after the units that make its inputs; `rule` replaces every unit that is
        not a Node; a unit listed before one that makes its inputs is a GraphError.
        """
        mapping: dict[int, Variable] = {}
        units = self.nodes if order is None else list(order)
        later = set() if order is None else {id(v) for unit in units for v in unit.outputs}
        for node in units:
            if later:
                later.difference_update(id(v) for v in node.outputs)
                if any(id(v) in later for v in node.inputs):
                    raise GraphError(f"rebuild: {node!r} comes before the unit that makes one of its inputs")
            new_inputs = [mapping.get(id(v), v) for v in node.inputs]
            with origin_scope(node.origin):
                replaced = rule(node, new_inputs)
                if replaced is None and any(a is not b for a, b in zip(new_inputs, node.inputs, strict=True)):
                    replaced = _reapply(node, new_inputs)
            if replaced is None:
                continue
            replaced = _as_tuple(replaced)
            if len(replaced) != len(node.outputs):
                raise GraphError(
                    f"a rewrite of {node!r} gave {len(replaced)} outputs for {len(node.outputs)}"
                )
            for old, new in zip(node.outputs, replaced, strict=True):
                if new is not old:
                    _check_same_type(old, new, node)
                    mapping[id(old)] = new
        return self.with_roots([mapping.get(id(v), v) for v in self.roots])

    def replace(self, substitutions: dict[Variable, Variable]) -> FunctionGraph:
        """A new graph where each key variable is replaced by its value (types must match)."""
        by_id = {id(k): v for k, v in substitutions.items()}

        def rule(node: Node, new_inputs: list[Variable]):
            if any(id(out) in by_id for out in node.outputs):
                return [by_id.get(id(out), out) for out in node.outputs]
            # leaves (inputs, shared variables, constants) have no node: swap them where they are used
            swapped = [by_id.get(id(v), v) if v.owner is None else v for v in new_inputs]
            if any(a is not b for a, b in zip(swapped, new_inputs, strict=True)):
                return _as_tuple(apply(node.op, swapped, origin=node.origin, **node.params))
            return None

        graph = self.rebuild(rule)
        return graph.with_roots([by_id.get(id(v), v) for v in graph.roots])


def _reapply(node: Node, new_inputs: list[Variable]) -> tuple[Variable, ...]:
    """`node` on new inputs. Shape rules depend on the input types and params only, so inputs of the same
    types give the same output types without running the rules again (rebuilds re-apply whole chains)."""
    if all(a.type == b.type for a, b in zip(new_inputs, node.inputs, strict=True)):
        return Node(
            node.op, new_inputs, node.params, [v.type for v in node.outputs], node.origin, node.assumes
        ).outputs
    return _as_tuple(apply(node.op, new_inputs, origin=node.origin, **node.params))


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _check_same_type(old: Variable, new: Variable, node: Node) -> None:
    if old.type.dtype != new.type.dtype or old.type.ndim != new.type.ndim:
        raise GraphError(f"a rewrite of {node!r} changed the type {old.type} into {new.type}")
