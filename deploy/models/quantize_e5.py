#!/usr/bin/env python3
"""Make the int8 variant of a converted multilingual-e5-small and check it against the float one.

    python quantize_e5.py MODEL_DIR

Reads MODEL_DIR/model.onnx (f32, from convert_e5.py), writes MODEL_DIR/model-int8.onnx with
ONNX Runtime's dynamic quantisation: MatMul weights int8 per output channel, the word
embedding table (a Gather) int8, activations quantised at run time. Same weights, a quarter
of the size (119 MB instead of 470 MB), and integer matrix products on the CPU.

Then checks, on the texts of verify_e5.py plus longer mixed passages, that the int8 vectors
stay close to the float ones: every cosine >= MIN_COS, the mean >= MIN_MEAN_COS, each query's
nearest text is the same under both models, and the semantic sanity pairs still hold. Exits
non-zero (and removes the output) on any failure. Needs numpy, onnx, onnxruntime, tokenizers.

Dynamic quantisation scales activations per tensor, so a text's int8 vector depends slightly
on the other texts in its batch (printed as padded-batch vs single); the float model's does not.
"""
import argparse
import logging
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from verify_e5 import SANITY, SENTENCES, OnnxE5, checker, prefixed  # noqa: E402

# Measured on the eval passages and queries (300 texts): min 0.9875, mean 0.9969.
MIN_COS = 0.98
MIN_MEAN_COS = 0.995
OUTPUT = "model-int8.onnx"


def long_passages():
    """Passages of 60-400 tokens mixing the two languages, as chunks are."""
    zh = [t for q, t in SENTENCES if not q and not t.isascii()]
    en = [t for q, t in SENTENCES if not q and t.isascii()]
    out = []
    for n in (2, 5, 12):
        out.append(" ".join((zh * n)[: n * 2]))
        out.append(" ".join((en * n)[: n * 2]))
        out.append(" ".join(sum(([a, b] for a, b in zip(zh * n, en * n)), [])[: n * 2]))
    return ["passage: " + t for t in out]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # It advises shape-inference pre-processing, which changes nothing for this graph.
    logging.getLogger().setLevel(logging.ERROR)

    src = os.path.join(args.model_dir, "model.onnx")
    dst = os.path.join(args.model_dir, OUTPUT)
    tmp = dst + ".tmp"
    quantize_dynamic(src, tmp, weight_type=QuantType.QInt8, per_channel=True,
                     op_types_to_quantize=["MatMul", "Gather"])
    os.replace(tmp, dst)
    print("  wrote %s: %.0f MB (float %.0f MB)"
          % (OUTPUT, os.path.getsize(dst) / 1e6, os.path.getsize(src) / 1e6))

    failures = []
    check = checker(failures)

    f32 = OnnxE5(args.model_dir, args.threads)
    int8 = OnnxE5(args.model_dir, args.threads, model_file=OUTPUT)
    texts = [prefixed(q, t) for q, t in SENTENCES] + long_passages()
    a, b = f32.embed(texts), int8.embed(texts)
    cos = (a * b).sum(1)
    print("(a) cosine, int8 vs float, padded batch of %d" % len(texts))
    for c, t in zip(cos, texts):
        check(c >= MIN_COS, "cos %.5f  %d tokens  %.60s" % (c, len(f32.ids(t)), t))
    check(cos.mean() >= MIN_MEAN_COS, "mean cos %.5f >= %.3f" % (cos.mean(), MIN_MEAN_COS))
    single = np.concatenate([int8.embed([t]) for t in texts])
    print("  [info] int8 padded-batch vs single: min cos %.6f" % (b * single).sum(1).min())

    print("(b) each query's nearest text is the same")
    for qi, (is_query, _) in enumerate(SENTENCES):
        if not is_query:
            continue
        others = [i for i in range(len(texts)) if i != qi]
        best_f = others[int(np.argmax(a[others] @ a[qi]))]
        best_q = others[int(np.argmax(b[others] @ b[qi]))]
        check(best_f == best_q, "%s -> float %.40s | int8 %.40s"
              % (texts[qi], texts[best_f], texts[best_q]))

    print("(c) semantic sanity under int8")
    for qi, r, u in SANITY:
        rel, unrel = float(b[qi] @ b[r]), float(b[qi] @ b[u])
        check(rel > unrel, "%.4f (related) > %.4f (unrelated)  %s" % (rel, unrel, texts[qi]))

    if failures:
        os.remove(dst)
        print("QUANTISE FAILED: %d check(s); %s removed" % (len(failures), OUTPUT))
        return 1
    print("quantise: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
