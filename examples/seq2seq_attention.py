"""An encoder-decoder with attention learns to reverse sequences (chapter 10.4, Bahdanau et al. 2015).

    python examples/seq2seq_attention.py [--backend numpy|interp|llvm] [--quick] [--plot attention.png]

The encoder is a bidirectional GRU (gc.nn.GRU) over the source digits; the decoder is a GRU cell in a gc.scan
loop that, at each step, attends over every encoder state (gc.nn.AdditiveAttention) and predicts the next
digit. Training uses teacher forcing (the decoder is fed the true previous digit); testing decodes greedily
(fed its own previous prediction, in a second scan with no input sequence). The attention weights of a test
sequence form an anti-diagonal: output step t looks at input step T-1-t. With matplotlib, --plot saves them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import graphc as gc

DIGITS, BOS = 10, 10  # tokens 0..9, and the decoder's start symbol
VOCAB = DIGITS + 1


def reversal_task(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Source digits (T, n) time-major and the target: the same digits reversed."""
    source = rng.integers(0, DIGITS, (steps, n))
    return source, source[::-1].copy()


class Seq2Seq:
    def __init__(self, emb: int, hidden: int, rng):
        self.embedding = gc.nn.Embedding(VOCAB, emb, rng=rng, std=0.3, name="embedding")
        self.encoder = gc.nn.GRU(emb, hidden, bidirectional=True, rng=rng, name="encoder")
        self.bridge = gc.nn.Dense(2 * hidden, hidden, rng=rng, name="bridge")
        self.attention = gc.nn.AdditiveAttention(hidden, 2 * hidden, hidden, rng=rng, name="attention")
        self.decoder = gc.nn.GRU(emb + 2 * hidden, hidden, rng=rng, name="decoder")
        self.out = gc.nn.Dense(3 * hidden, VOCAB, rng=rng, name="out")
        layers = (self.encoder, self.attention, self.decoder)
        self.params = [*self.embedding.params, *self.bridge.params, *self.out.params]
        self.params += [p for layer in layers for p in layer.params.values()]

    def encode(self, source):
        """The encoder states as attention keys (n, T, 2H), and the decoder's first state."""
        states, h = self.encoder(self.embedding(source))
        keys = gc.transpose(states, (1, 0, 2))
        return keys, gc.tanh(self.bridge(gc.concatenate([h[0], h[1]], axis=1)))

    def step(self, keys, s, previous):
        """One decoder step from state s and the previous token's embedding: (new s, (logits, weights))."""
        context, weights = self.attention(gc.expand_dims(s, 1), keys)
        context = context[:, 0, :]
        s = gc.nn.gru_cell(gc.concatenate([previous, context], axis=1), s, self.decoder.params)
        return s, (self.out(gc.concatenate([s, context], axis=1)), weights[:, 0, :])

    def teacher_forced(self, source, target):
        """Logits (T, n, VOCAB), the decoder fed BOS then the true target digits."""
        keys, s0 = self.encode(source)
        start = gc.broadcast_to(gc.constant(np.full((1, 1), BOS)), (1, target.shape[1]))
        previous = self.embedding(gc.concatenate([start, target[:-1]], axis=0))
        _, (logits, _) = gc.scan(lambda s, x: self.step(keys, s, x), s0, previous)
        return logits

    def greedy(self, source):
        """Tokens (T, n) and attention weights (T, n, T), each step fed the previous step's argmax."""
        keys, s0 = self.encode(source)
        first = gc.broadcast_to(self.embedding.W[BOS], (source.shape[1], self.embedding.W.shape[1]))

        def step(carry, _):
            s, (logits, weights) = self.step(keys, *carry)
            token = gc.argmax(logits, axis=1)
            return (s, self.embedding(token)), (token, weights)

        _, (tokens, weights) = gc.scan(step, (s0, first), length=source.shape[0])
        return tokens, weights


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpy")
    parser.add_argument("--steps", type=int, default=8, help="sequence length")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--quick", action="store_true", help="short settings for CI")
    parser.add_argument("--plot", default=None, help="save a test sequence's attention weights (matplotlib)")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = 6
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    (src, tgt), (src_te, tgt_te) = reversal_task(2000, args.steps, rng), reversal_task(500, args.steps, rng)
    model = Seq2Seq(emb=16, hidden=32, rng=np.random.default_rng(1))
    source, target = gc.tensor("source", ("T", "n"), "int64"), gc.tensor("target", ("T", "n"), "int64")
    logits = model.teacher_forced(source, target)
    J = gc.nn.softmax_cross_entropy(gc.reshape(logits, (-1, VOCAB)), gc.reshape(target, (-1,)))
    grads = gc.optim.clip_by_norm(gc.grad(J, model.params), 5.0)
    train_step = gc.function([source, target], J, updates=gc.optim.adam(grads, model.params, lr=0.01),
                             backend=args.backend)  # fmt: skip
    decode = gc.function([source], model.greedy(source), backend=args.backend)
    order = np.random.default_rng(2)
    for epoch in range(args.epochs):
        perm = order.permutation(src.shape[1])
        losses = [float(train_step(src[:, b], tgt[:, b])) for b in np.split(perm, len(perm) // 50)]
        print(f"epoch {epoch + 1}: loss {np.mean(losses):.3f}")
    tokens, weights = decode(src_te)
    token_acc = float((tokens == tgt_te).mean())
    sequence_acc = float((tokens == tgt_te).all(axis=0).mean())
    elapsed = time.perf_counter() - start
    print(f"greedy decoding on {src_te.shape[1]} test sequences: {token_acc:.3f} of the digits, "
          f"{sequence_acc:.3f} of whole sequences right")  # fmt: skip
    print(f"done in {elapsed:.1f} s")
    if args.plot:
        plot(weights[:, 0, :], src_te[:, 0], tokens[:, 0], args.plot)
    return {
        "token_accuracy": token_acc,
        "sequence_accuracy": sequence_acc,
        "weights": weights,
        "seconds": elapsed,
    }


def plot(weights: np.ndarray, source: np.ndarray, output: np.ndarray, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot needs matplotlib (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.imshow(weights, cmap="Greys", vmin=0, vmax=1)
    ax.set_xticks(range(len(source)), [str(t) for t in source])
    ax.set_yticks(range(len(output)), [str(t) for t in output])
    ax.set_xlabel("source")
    ax.set_ylabel("output (greedy)")
    ax.set_title("attention weights")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"attention weights: {path}")


if __name__ == "__main__":
    main()
