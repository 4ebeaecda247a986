"""Deep-learning layer: activations, losses, layers, initialisers, regularisers (graph-building helpers)."""
