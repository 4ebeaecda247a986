"""A bag-of-embeddings text classifier (embedding lookup + masked mean pooling + softmax) on synthetic tokens.

    python examples/text_classifier.py [--backend numpy|interp|llvm] [--quick]

Each "document" is a padded sequence of token ids (0 is padding). Most tokens are filler drawn from the whole
vocabulary; three are keywords of the document's topic (each topic owns a small set of keyword ids), and one
keyword of another topic is there to mislead. The model looks every token up in an embedding table
(`gc.nn.Embedding`, a gather), averages the non-padding vectors, and classifies the average: it must learn
which ids matter. The table's gradient is a scatter-add into the rows the batch read (repeated ids add up).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import graphc as gc

VOCABULARY, TOPICS, KEYWORDS, LENGTH = 2000, 4, 25, 24


def documents(n: int, rng: np.random.Generator, keyword_ids: np.ndarray):
    """n padded documents (ids, shape (n, LENGTH)) and their topics."""
    topics = rng.integers(0, TOPICS, size=n)
    ids = rng.integers(1, VOCABULARY, size=(n, LENGTH))
    lengths = rng.integers(LENGTH // 2, LENGTH + 1, size=n)
    for i in range(n):
        spots = rng.choice(lengths[i], size=4, replace=False)  # three keywords of the topic, anywhere,
        ids[i, spots[:3]] = rng.choice(keyword_ids[topics[i]], size=3)
        other = (topics[i] + rng.integers(1, TOPICS)) % TOPICS  # and one of another topic, to mislead
        ids[i, spots[3]] = rng.choice(keyword_ids[other])
        ids[i, lengths[i] :] = 0  # padding
    return ids, topics


def model(dim: int, rng: np.random.Generator):
    """(ids, labels, cost, predictions, params): embedding → masked mean over tokens → dense → softmax."""
    embed = gc.nn.Embedding(VOCABULARY, dim, rng=rng, std=0.1, name="words")
    classify = gc.nn.Dense(dim, TOPICS, rng=rng, name="topic")
    ids, labels = gc.matrix("ids", ("n", LENGTH), dtype="int64"), gc.vector("labels", dtype="int64")
    vectors = embed(ids)  # (n, LENGTH, dim): a gather of table rows
    mask = gc.cast(ids > 0, "float32")[:, :, None]  # padding counts for nothing
    pooled = gc.sum(vectors * mask, axis=1) / gc.sum(mask, axis=1)
    logits = classify(pooled)
    cost = gc.nn.softmax_cross_entropy(logits, labels)
    return ids, labels, cost, gc.argmax(logits, axis=1), embed.params + classify.params


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    keyword_ids = rng.choice(np.arange(1, VOCABULARY), size=(TOPICS, KEYWORDS), replace=False)
    train_ids, train_topics = documents(2000 if args.quick else 8000, rng, keyword_ids)
    test_ids, test_topics = documents(1000, rng, keyword_ids)

    ids, labels, cost, predicted, params = model(dim=16, rng=rng)
    step = gc.function(
        [ids, labels], cost, updates=gc.optim.adam(cost, params, lr=0.01), backend=args.backend
    )
    predict = gc.function([ids], predicted, backend=args.backend)
    epochs = args.epochs or (6 if args.quick else 10)
    batches = gc.training.minibatches(train_ids, train_topics, batch_size=32, rng=rng)
    history = gc.train(step, batches, epochs=epochs, progress=not args.quick, desc="text")
    accuracy = float((predict(test_ids) == test_topics).mean())
    elapsed = time.perf_counter() - start
    print(f"{epochs} epochs: training loss {history.loss[-1]:.3f}, test accuracy {accuracy:.1%} "
          f"(chance {1 / TOPICS:.0%}), {elapsed:.1f} s")  # fmt: skip
    return {"accuracy": accuracy, "loss": history.loss, "seconds": elapsed}


if __name__ == "__main__":
    with threadpool_limits(1):  # small matrices: BLAS threads cost more than they give
        main()
