"""The learned relevance and theme model: folded text and registry signals in, calibrated scores.

A set of logistic regressions (one for relevance, one per theme) over two kinds of features:

- the registry's own signals (theme phrase weights, relevance cues, actor kinds and ids, the
  hand-set relevance logit), named, so a registry change never shifts a column;
- hashed word unigrams/bigrams of the folded text, character trigrams that touch a non-ASCII
  letter and character pairs within Chinese, Japanese and Korean text. Hashing means no
  vocabulary ships; character n-grams carry languages without spaces (Chinese, Japanese) and
  inflected ones. The hashing is done here in numpy (polynomial hashes from one prefix sum)
  rather than by scikit-learn's HashingVectorizer, whose per-document Python analyzers cost
  several milliseconds on an 800-word article (bench/bench_tagger.py --model).

Platt scaling fitted on held-out folds is folded into each regression's weights, so every score
is a probability: 0.8 means that of the training-set texts scored near 0.8 about four in five
carried the label. Inference needs only numpy; scikit-learn is needed to train
(`python -m spacewatch.seeds.train_model`), not to tag.

The model file is a compressed .npz: registry feature names, output names, per-output thresholds,
and the nonzero hashed weights as (bucket, value) pairs. Its version is a hash of its bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "DEFAULT_MODEL_PATH",
    "FEATURE_SPEC",
    "HashedText",
    "Model",
    "ModelError",
    "ModelScores",
    "hash_text",
    "load_model",
    "save_model",
]

# Shipped in the package (pyproject package-data), written by seeds/train_model.py.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "tagger_model.npz"

# What the hashed features are; stored in the file and checked on load, so a model trained with
# another featuriser is refused instead of silently scoring nonsense.
FEATURE_SPEC = "w1-2+c3nonascii+cjk2@2500/b18/poly-v1"
_BITS = 18
_BUCKETS = 1 << _BITS
_CHAR_NS = (2, 3)
_CJK = 0x2E80  # CJK radicals onwards: Chinese, Japanese kana, Korean Hangul...
_MAX_CHARS = 20_000  # the model reads the first 20k folded characters: the lede decides
# Character n-grams come from the first 2,500 (about 400 Russian words): past that they cost
# more time than they add (a Russian 800-word article fell from 630 to 420 a second with all).
_MAX_CHAR_GRAM_CHARS = 2_500

_WORD = re.compile(r"\w+")
_P = np.uint64(0x100000001B3)  # odd, so it has an inverse modulo 2**64
_P_INV = np.uint64(pow(0x100000001B3, -1, 1 << 64))
_MIX = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(64 - _BITS)
# Distinct salts keep a word, a bigram and a character n-gram with the same letters apart.
_SALT_WORD, _SALT_BIGRAM = np.uint64(0x51ED270B27), np.uint64(0x2545F4914F6CDD1D)
_SALT_CHAR = {n: np.uint64(0x9FB21C651E98DF25 + 7919 * n) for n in _CHAR_NS}


def _powers(base: np.uint64, n: int) -> np.ndarray:
    out = np.empty(n, dtype=np.uint64)
    out[0] = 1
    with np.errstate(over="ignore"):
        np.cumprod(np.full(n - 1, base, dtype=np.uint64), out=out[1:])
    return out


_POW = _powers(_P, _MAX_CHARS + 2)
_POW_INV = _powers(_P_INV, _MAX_CHARS + 2)


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


@dataclass(frozen=True, slots=True)
class HashedText:
    """Every hashed feature of one text: the bucket of each n-gram occurrence, by kind.

    `words` holds word unigrams then bigrams, `chars[k]` the character n-grams starting at each
    offset. A bucket's value is its count times the kind's scale (1/sqrt(occurrences of that
    kind)), so long texts do not outweigh short ones.
    """

    codes: np.ndarray  # code points of the words the n-grams were cut from, one space apart
    words: np.ndarray  # int64 buckets: len(starts) unigrams, then len(starts) - 1 bigrams
    starts: np.ndarray  # word start offsets in `text`
    ends: np.ndarray
    # (n, buckets, offsets): character n-grams; offsets None means at 0, 1, 2...
    chars: tuple[tuple[int, np.ndarray, np.ndarray | None], ...]

    @property
    def text(self) -> str:
        return self.codes.tobytes().decode("utf-32-le", "surrogatepass")

    @property
    def word_scale(self) -> float:
        return 1 / math.sqrt(len(self.words)) if len(self.words) else 0.0

    @property
    def char_scale(self) -> float:
        total = sum(len(b) for _, b, _ in self.chars)
        return 1 / math.sqrt(total) if total else 0.0

    def occurrences(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int, float]]:
        """(buckets, starts, ends, kind, scale) per kind: for training matrices and explanations."""
        n_words = len(self.starts)
        out = [
            (self.words[:n_words], self.starts, self.ends, 0, self.word_scale),
            (self.words[n_words:], self.starts[:-1], self.ends[1:], 0, self.word_scale),
        ]
        for n, b, offsets in self.chars:
            if offsets is None:
                offsets = np.arange(len(b), dtype=np.int64)
            out.append((b, offsets, offsets + n, 1, self.char_scale))
        return out


_IS_WORD: np.ndarray | None = None


def _is_word_table() -> np.ndarray:
    """Which BMP code points `\\w` matches (letters, digits, "_"...); built on first use."""
    global _IS_WORD
    if _IS_WORD is None:
        bmp = "".join(map(chr, range(0x10000))).encode("utf-32-le", "surrogatepass")
        codes = np.frombuffer(bmp, dtype=np.uint32)
        table = np.zeros(0x10000, dtype=bool)
        for m in _WORD.finditer(bmp.decode("utf-32-le", "surrogatepass")):
            table[codes[m.start() : m.end()]] = True
        _IS_WORD = table
    return _IS_WORD


def _word_codes(folded: str) -> np.ndarray:
    """Code points of the text's words (runs of `\\w`) joined by single spaces."""
    cp = np.frombuffer(folded[:_MAX_CHARS].encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    word = np.ones(len(cp), dtype=bool)  # beyond the BMP: CJK extensions, counted as letters
    bmp = cp < 0x10000
    word[bmp] = _is_word_table()[cp[bmp]]
    # Keep word characters, and the first non-word character after each word as its separator.
    keep = word.copy()
    keep[1:] |= word[:-1]
    out = np.where(word, cp, np.uint32(32))[keep]
    return out[:-1] if len(out) and out[-1] == 32 else out


def hash_text(folded: str) -> HashedText:
    """Hash the word and character n-grams of already case-folded text (see module docstring)."""
    codes = _word_codes(folded)
    n = len(codes)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return HashedText(codes, empty, empty, empty, ())
    cp = codes.astype(np.uint64)
    # S[m] = sum_{k<m} cp[k] * P^-k, so the hash of text[i:j] is P^(j-1) * (S[j] - S[i]).
    prefix = np.zeros(n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(cp * _POW_INV[:n], out=prefix[1:])
        spaces = np.flatnonzero(cp == 32)
        starts = np.concatenate(([0], spaces + 1))
        ends = np.concatenate((spaces, [n]))
        # Unigrams text[s:e] and bigrams text[s_i:e_i+1] in one gather.
        i = np.concatenate((starts, starts[:-1]))
        j = np.concatenate((ends, ends[1:]))
        salt = np.full(len(i), _SALT_BIGRAM, dtype=np.uint64)
        salt[: len(starts)] = _SALT_WORD
        h = (_POW[j - 1] * (prefix[j] - prefix[i])) ^ salt
        words = ((h * _MIX) >> _SHIFT).astype(np.int64)
        chars = []
        m = min(n, _MAX_CHAR_GRAM_CHARS)
        c = cp[:m]
        for k in _CHAR_NS if not folded.isascii() else ():
            if m >= k:
                h = (_POW[k - 1 : m] * (prefix[k : m + 1] - prefix[: m + 1 - k])) ^ _SALT_CHAR[k]
                b = ((h * _MIX) >> _SHIFT).astype(np.int64)
                # Each occurrence costs a lookup (most of the model's time), so character n-grams
                # are kept where words fall short: pairs inside Chinese, Japanese or Korean text
                # (a word there is mostly two characters), trigrams touching a non-ASCII letter
                # (inflected and accented words, scripts without spaces). English is words.
                if k == 2:
                    offsets = np.flatnonzero((c[:-1] >= _CJK) & (c[1:] >= _CJK))
                else:
                    offsets = np.flatnonzero(np.maximum(np.maximum(c[:-2], c[1:-1]), c[2:]) >= 128)
                chars.append((k, b[offsets], offsets))
    return HashedText(codes, words, starts, ends, tuple(chars))


@dataclass(frozen=True, slots=True)
class ModelScores:
    """Calibrated probabilities per output ("relevant", then theme ids) and the logits behind."""

    probabilities: Mapping[str, float]
    logits: Mapping[str, float]


@dataclass(frozen=True)
class Model:
    """A trained model. Immutable; `score` is a pure function of its inputs."""

    outputs: tuple[str, ...]  # "relevant", then theme ids
    signal_names: tuple[str, ...]  # names of the registry features, in column order
    signal_weights: np.ndarray  # (len(signal_names), len(outputs)) float32
    buckets: np.ndarray  # the hashed buckets that carry a weight, ascending
    bucket_weights: np.ndarray  # (len(buckets), len(outputs)) float32
    bias: np.ndarray  # (len(outputs),) float32
    thresholds: Mapping[str, float]  # the score at which an output is asserted
    meta: Mapping[str, object]  # training figures and decisions (see train_model)
    version: str  # sha256 of the file's bytes, first 12 hex digits
    _signal_index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # bucket -> row of _rows (0: no weight). A small index and a small table keep the ~15,000
    # lookups of an article in cache, unlike a dense bucket x output table (10 MB).
    _slot: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    _rows: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def __post_init__(self) -> None:
        self._signal_index.update({n: i for i, n in enumerate(self.signal_names)})
        slot = np.zeros(_BUCKETS, dtype=np.int32)
        slot[self.buckets.astype(np.int64)] = np.arange(1, len(self.buckets) + 1, dtype=np.int32)
        if len(self.buckets) < np.iinfo(np.int16).max:
            slot = slot.astype(np.int16)  # half the index: more of it stays in cache
        rows = np.zeros((len(self.buckets) + 1, len(self.outputs)), dtype=np.float32)
        rows[1:] = self.bucket_weights
        object.__setattr__(self, "_slot", slot)
        object.__setattr__(self, "_rows", rows)

    @property
    def themes(self) -> tuple[str, ...]:
        return tuple(o for o in self.outputs if o != "relevant")

    def signal_vector(self, signals: Mapping[str, float]) -> np.ndarray:
        """Registry signals in the model's column order; names the model never saw are ignored."""
        vec = np.zeros(len(self.signal_names), dtype=np.float32)
        index = self._signal_index
        for name, value in signals.items():
            i = index.get(name)
            if i is not None:
                vec[i] = value
        return vec

    def score(self, hashed: HashedText, signals: Mapping[str, float]) -> ModelScores:
        logits = self.bias + self.signal_vector(signals) @ self.signal_weights
        rows, slot = self._rows, self._slot
        if len(hashed.words):
            logits = logits + rows[slot[hashed.words]].sum(axis=0) * hashed.word_scale
        if hashed.chars:
            grams = np.concatenate([b for _, b, _ in hashed.chars])
            logits = logits + rows[slot[grams]].sum(axis=0) * hashed.char_scale
        probs = 1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))
        return ModelScores(
            dict(zip(self.outputs, map(float, probs), strict=True)),
            dict(zip(self.outputs, map(float, logits), strict=True)),
        )

    def explain_signals(
        self, signals: Mapping[str, float], output: str, limit: int = 3
    ) -> tuple[str, ...]:
        """The registry signals that raised `output` the most ("actor:us_space_force")."""
        col = self.outputs.index(output)
        contrib = self.signal_vector(signals) * self.signal_weights[:, col]
        order = np.argsort(-contrib, kind="stable")[:limit]
        return tuple(self.signal_names[i] for i in order if contrib[i] > 0)

    def explain(self, hashed: HashedText, output: str, limit: int = 3) -> tuple[str, ...]:
        """The n-grams of this text that raised `output` the most, strongest first.

        A character fragment is shown as the word it sits in (a run of Chinese text, which has
        no spaces, as the fragment itself); a phrase inside one already shown is skipped.
        """
        col = self.outputs.index(output)
        cand: list[tuple[float, int, int, int]] = []
        for buckets, starts, ends, kind, scale in hashed.occurrences():
            if not len(buckets):
                continue
            w = self._rows[self._slot[buckets], col] * scale
            top = np.argsort(-w, kind="stable")[: 8 * limit]
            cand += [(float(w[k]), int(starts[k]), int(ends[k]), kind) for k in top if w[k] > 0]
        cand.sort(key=lambda c: -c[0])
        text = hashed.text
        picked: list[tuple[int, int]] = []
        out: list[str] = []
        for _, s, e, kind in cand:
            if len(out) >= limit:
                break
            if kind == 1:
                ws = text.rfind(" ", 0, s) + 1
                stop = text.find(" ", e)
                we = len(text) if stop < 0 else stop
                if we - ws <= 24:
                    s, e = ws, we
            if any(ps <= s and e <= pe for ps, pe in picked):
                continue
            picked.append((s, e))
            out.append(text[s:e])
        return tuple(out)


# ---------------------------------------------------------------------------------------------
# Files


def save_model(
    path: str | Path,
    *,
    outputs: Sequence[str],
    signal_names: Sequence[str],
    signal_weights: np.ndarray,
    buckets: np.ndarray,
    bucket_weights: np.ndarray,
    bias: np.ndarray,
    thresholds: Mapping[str, float],
    meta: Mapping[str, object],
) -> str:
    """Write a model file; returns its version (a hash of the bytes written)."""
    header = {
        "feature_spec": FEATURE_SPEC,
        "outputs": list(outputs),
        "signal_names": list(signal_names),
        "thresholds": {k: float(v) for k, v in thresholds.items()},
        "meta": dict(meta),
    }
    arrays = {
        "header": np.frombuffer(json.dumps(header, sort_keys=True).encode(), dtype=np.uint8),
        "signal_weights": np.asarray(signal_weights, dtype=np.float32),
        "bias": np.asarray(bias, dtype=np.float32),
        "buckets": np.asarray(buckets, dtype=np.uint32),
        "bucket_weights": np.asarray(bucket_weights, dtype=np.float16),
    }
    # np.savez stamps the current time into the zip; a fixed one makes the same weights the same
    # bytes, hence the same version, whenever and wherever they were written.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, member.getvalue())
    data = buf.getvalue()
    Path(path).write_bytes(data)
    return hashlib.sha256(data).hexdigest()[:12]


def load_model(path: str | Path | None = None) -> Model:
    """Read a model file (the shipped one by default); ModelError names the file if unusable."""
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model file ({exc.strerror or exc})") from None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            signal_weights = z["signal_weights"].astype(np.float32)
            bias = z["bias"].astype(np.float32)
            buckets = z["buckets"].astype(np.int64)
            bucket_weights = z["bucket_weights"].astype(np.float32)
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a Spacewatch model file ({exc})") from None
    if header.get("feature_spec") != FEATURE_SPEC:
        raise ModelError(
            f"{path}: trained for features {header.get('feature_spec')!r}, this Spacewatch "
            f"computes {FEATURE_SPEC!r}; retrain with python -m spacewatch.seeds.train_model"
        )
    outputs = tuple(header["outputs"])
    signal_names = tuple(header["signal_names"])
    if (
        signal_weights.shape != (len(signal_names), len(outputs))
        or bias.shape != (len(outputs),)
        or bucket_weights.shape != (len(buckets), len(outputs))
        or (len(buckets) and (buckets.min() < 0 or buckets.max() >= _BUCKETS))
    ):
        raise ModelError(f"{path}: weight shapes do not match the outputs and features listed")
    return Model(
        outputs=outputs,
        signal_names=signal_names,
        signal_weights=signal_weights,
        buckets=buckets,
        bucket_weights=bucket_weights,
        bias=bias,
        thresholds={k: float(v) for k, v in header["thresholds"].items()},
        meta=header.get("meta", {}),
        version=hashlib.sha256(data).hexdigest()[:12],
    )
