"""Classification metrics as graph builders: confusion matrix, accuracy, TPR, TNR, PPV, NPV. Core only.

>>> import numpy as np, graphc as gc
>>> pred, true = gc.vector("pred", dtype="int64"), gc.vector("true", dtype="int64")
>>> cm = gc.nn.confusion_matrix(pred, true, 2)               # cm[i, j]: true class i predicted as j
>>> f = gc.function([pred, true], gc.nn.binary_metrics(cm)["accuracy"])
>>> float(f(np.array([1, 0, 1, 1]), np.array([1, 0, 0, 1])))
0.75
"""

from __future__ import annotations

from graphc.graph import Variable
from graphc.tensor import as_variable, one_hot, sum_, transpose

__all__ = ["confusion_matrix", "binary_metrics"]


def confusion_matrix(pred, true, k: int) -> Variable:
    """Counts (float64) of true class i predicted as class j: one_hot(true)ᵀ · one_hot(pred).

    >>> pred, true = gc.vector("pred", dtype="int64"), gc.vector("true", dtype="int64")
    >>> gc.evaluate(gc.nn.confusion_matrix(pred, true, 2), {pred: [1, 1, 0, 0], true: [1, 0, 0, 0]})
    array([[2., 1.],
           [0., 1.]])
    """
    return transpose(one_hot(as_variable(true), k)) @ one_hot(as_variable(pred), k)


def binary_metrics(cm) -> dict[str, Variable]:
    """From a 2×2 confusion matrix (class 1 = positive): accuracy (TP+TN)/all, TPR = TP/(TP+FN) (recall),
    TNR = TN/(TN+FP), PPV = TP/(TP+FP) (precision), NPV = TN/(TN+FN).

    >>> metrics = gc.nn.binary_metrics(np.array([[2.0, 1.0], [0.0, 1.0]]))
    >>> {name: float(gc.evaluate(value)) for name, value in metrics.items()}
    {'accuracy': 0.75, 'tpr': 1.0, 'tnr': 0.6666666666666666, 'ppv': 0.5, 'npv': 1.0}
    """
    cm = as_variable(cm)
    tn, fp, fn, tp = cm[0, 0], cm[0, 1], cm[1, 0], cm[1, 1]
    return {
        "accuracy": (tp + tn) / sum_(cm),
        "tpr": tp / (tp + fn),
        "tnr": tn / (tn + fp),
        "ppv": tp / (tp + fp),
        "npv": tn / (tn + fn),
    }
