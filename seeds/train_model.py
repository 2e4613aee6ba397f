"""Train the tagger's relevance and theme model from labelled texts.

    python -m spacewatch.seeds.train_model [--out seeds/tagger_model.npz] [--folds 5] [--no-cv]

Learns from the hand-written gold set (tests/data/gold/*.toml) and the development part of the
real-text set (`spacewatch.seeds.realset`, split "dev", when present). The test part is never
read here: its figures stay honest.

For each output (relevance, and each theme with enough positive examples) a logistic regression
over the registry's signals and the hashed n-grams (spacewatch.seeds.model) is fitted, then
Platt-scaled on out-of-fold decision values and the scaling folded into its weights, so scores
are probabilities. A theme's threshold is picked on those out-of-fold probabilities to maximise
F-beta, with beta set by how costly a miss is for that theme (PREFERENCE below, docs/choices.md).

Before writing the model it prints cross-validated figures: each fold's texts are tagged by the
real `Tagger.tag` with a model trained without them (nested: calibration and thresholds are
chosen inside the training folds), next to the registry alone on the same texts.
Needs scikit-learn (`pip install -e '.[train]'`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from spacewatch.seeds.model import (
    _BUCKETS,
    DEFAULT_MODEL_PATH,
    HashedText,
    Model,
    hash_text,
    load_model,
    save_model,
)
from spacewatch.seeds.registry import Registry, load_registry
from spacewatch.seeds.tagger import Tagger, TagResult, build_tagger

REPO = Path(__file__).resolve().parent.parent
GOLD_DIR = REPO / "tests" / "data" / "gold"

# beta of the F-beta a theme's threshold maximises. Crewed-Mars talk is frequent (a missed story
# is caught by the next one) while a false alert on it is what users notice: precision. Space
# Force deployments are rare events: a miss may be the only story, so recall.
PREFERENCE: dict[str, float] = {"mars_crewed_landing": 0.5, "space_force_deployment": 2.0}
# Where precision is preferred the model may raise or lower a theme the registry's phrases found,
# but not assert one no registry phrase supports (Tagger._apply_model).
REGISTRY_EVIDENCE_REQUIRED = ("mars_crewed_landing",)
MIN_POSITIVES = 8  # fewer positive examples than this: the theme stays the registry's alone
MAX_BUCKETS = 20_000  # hashed buckets kept (largest weights): bounds the file, memory and time
# Kept near the middle: the out-of-fold curves are noisy at the ends with a few hundred texts.
THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.3, 0.71, 0.05))


@dataclass(frozen=True)
class LabelledText:
    id: str
    source: str  # "gold" (tests/data/gold), "real" or "handwritten" (the real set's dev part)
    text: str
    title: str | None
    published: dt.date | None
    language: str
    relevant: bool
    themes: frozenset[str]
    labelled_themes: frozenset[str] | None  # themes judged by the labeller; None: all of them
    group: str  # texts of one group (one story) never straddle train and held-out folds


@dataclass(frozen=True)
class Prepared:
    doc: LabelledText
    registry: TagResult  # the registry alone
    hashed: HashedText
    signals: dict[str, float]


def load_gold(directory: Path = GOLD_DIR) -> list[LabelledText]:
    docs = []
    for path in sorted(directory.glob("*.toml")):
        for d in tomllib.loads(path.read_text(encoding="utf-8"))["doc"]:
            docs.append(
                LabelledText(
                    id=d["id"],
                    source="gold",
                    text=d["text"],
                    title=d.get("title"),
                    published=d.get("published"),
                    language=d.get("language", "en"),
                    relevant=bool(d["relevant"]),
                    themes=frozenset(d["themes"]),
                    labelled_themes=None,
                    group=f"gold:{d['id']}",
                )
            )
    return docs


def load_dev() -> list[LabelledText]:
    """The development part of the real-text set (real and hand-written items): never "test"."""
    import hashlib

    from spacewatch.seeds.realset import load_realset

    out = []
    for item in load_realset(split="dev"):
        if item.split != "dev":  # the loader filters already; the test part must never leak in
            raise RuntimeError(f"{item.id}: split {item.split!r} reached the training data")
        out.append(
            LabelledText(
                id=item.id,
                source="real" if item.origin == "real" else "handwritten",
                text=item.text,
                title=item.title,
                published=item.published,
                language=item.language,
                relevant=item.relevant,
                themes=item.themes,
                labelled_themes=None,  # the real set labels all themes
                # One story syndicated into two feeds is one group: never on both sides of a fold.
                group="text:" + hashlib.sha1(" ".join(item.text.split()).encode()).hexdigest(),
            )
        )
    return out


def prepare(tagger: Tagger, docs: Iterable[LabelledText]) -> list[Prepared]:
    out = []
    for d in docs:
        result, folded, signals = tagger.signals(d.text, title=d.title, published=d.published)
        out.append(Prepared(d, result, hash_text(folded), signals))
    return out


def labelled_for(p: Prepared, theme: str) -> bool:
    """A text counts for a theme when the labeller judged that theme and the registry judges its
    language (themes in other languages are not asserted at all, by model or registry)."""
    lt = p.doc.labelled_themes
    return (lt is None or theme in lt) and p.registry.themes_judged


# ---------------------------------------------------------------------------------------------
# Fitting


def design(prepared: Sequence[Prepared], signal_names: Sequence[str]) -> sparse.csr_matrix:
    """Rows: texts; columns: the named registry signals, then the hashed buckets."""
    index = {n: i for i, n in enumerate(signal_names)}
    width = len(signal_names)
    rows, cols, vals = [], [], []
    for r, p in enumerate(prepared):
        for name, v in p.signals.items():
            if name in index:
                rows.append(np.array([r]))
                cols.append(np.array([index[name]]))
                vals.append(np.array([v], dtype=np.float64))
        for buckets, _s, _e, _kind, scale in p.hashed.occurrences():
            rows.append(np.full(len(buckets), r))
            cols.append(buckets + width)
            vals.append(np.full(len(buckets), scale))
    m = sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(prepared), width + _BUCKETS),
    )
    return m.tocsr()  # duplicates (repeated n-grams) are summed: counts times scale


def _fbeta(y: np.ndarray, pred: np.ndarray, beta: float) -> float:
    tp = float((y & pred).sum())
    fp = float((~y & pred).sum())
    fn = float((y & ~pred).sum())
    b2 = beta * beta
    denom = (1 + b2) * tp + b2 * fn + fp
    return (1 + b2) * tp / denom if denom else 0.0


def fit(
    prepared: Sequence[Prepared],
    registry: Registry,
    *,
    c: float = 1.0,
    folds: int = 5,
    seed: int = 7,
    log: Callable[[str], None] = lambda _: None,
) -> tuple[Model, dict[str, object]]:
    """Fit, calibrate and threshold every output; the model is in memory (see `write`)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    counts: dict[str, int] = defaultdict(int)
    for p in prepared:
        for name in p.signals:
            counts[name] += 1
    signal_names = sorted(n for n, k in counts.items() if k >= 2)
    x_all = design(prepared, signal_names)
    width = len(signal_names)

    outputs = ["relevant"]
    for t in registry.themes:
        pos = sum(t.id in p.doc.themes for p in prepared if labelled_for(p, t.id))
        if pos >= MIN_POSITIVES:
            outputs.append(t.id)
        else:
            log(f"  {t.id}: {pos} positive examples (< {MIN_POSITIVES}): registry only")

    weights = np.zeros((width + _BUCKETS, len(outputs)), dtype=np.float64)
    bias = np.zeros(len(outputs))
    thresholds: dict[str, float] = {"relevant": 0.5}
    for k, out in enumerate(outputs):
        if out == "relevant":
            mask = np.ones(len(prepared), dtype=bool)
            y = np.array([p.doc.relevant for p in prepared])
        else:
            mask = np.array([labelled_for(p, out) for p in prepared])
            y = np.array([out in p.doc.themes for p in prepared])[mask]
        x = x_all[mask]
        clf = LogisticRegression(C=c, solver="liblinear", class_weight="balanced", max_iter=500)
        n_folds = max(2, min(folds, int(y.sum()), int((~y).sum())))
        cv = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
        oof = cross_val_predict(clf, x, y, cv=cv, method="decision_function")
        platt = LogisticRegression(C=1e4, solver="lbfgs").fit(oof[:, None], y)
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        clf.fit(x, y)
        weights[:, k] = a * clf.coef_[0]
        bias[k] = a * clf.intercept_[0] + b
        if out != "relevant":
            prob = 1 / (1 + np.exp(-(a * oof + b)))
            beta = PREFERENCE.get(out, 1.0)
            best = max(THRESHOLD_GRID, key=lambda t: (_fbeta(y, prob >= t, beta), -abs(t - 0.5)))
            thresholds[out] = float(best)

    hashed = weights[width:]
    strength = np.abs(hashed).max(axis=1)
    keep = np.flatnonzero(strength > 0)
    if len(keep) > MAX_BUCKETS:
        keep = np.sort(np.argsort(-strength, kind="stable")[:MAX_BUCKETS])
    meta: dict[str, object] = {
        "trained_on": {
            "gold": sum(p.doc.source == "gold" for p in prepared),
            "real_dev": sum(p.doc.source == "real" for p in prepared),
            "handwritten_dev": sum(p.doc.source == "handwritten" for p in prepared),
        },
        "registry_version": registry.version,
        "registry_evidence_required": [t for t in REGISTRY_EVIDENCE_REQUIRED if t in outputs],
        "preference_beta": {t: PREFERENCE.get(t, 1.0) for t in outputs if t != "relevant"},
        "c": c,
    }
    model = Model(
        outputs=tuple(outputs),
        signal_names=tuple(signal_names),
        signal_weights=weights[:width].astype(np.float32),
        buckets=keep.astype(np.int64),
        # The file stores float16; round here so the in-memory model scores what ships.
        bucket_weights=hashed[keep].astype(np.float16).astype(np.float32),
        bias=bias.astype(np.float32),
        thresholds=thresholds,
        meta=meta,
        version="unsaved",
    )
    return model, meta


def write(model: Model, path: Path) -> str:
    return save_model(
        path,
        outputs=model.outputs,
        signal_names=model.signal_names,
        signal_weights=model.signal_weights,
        buckets=model.buckets,
        bucket_weights=model.bucket_weights,
        bias=model.bias,
        thresholds=model.thresholds,
        meta=model.meta,
    )


# ---------------------------------------------------------------------------------------------
# Cross-validation


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, gold: bool, pred: bool) -> None:
        self.tp += gold and pred
        self.fp += pred and not gold
        self.fn += gold and not pred

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _folds(prepared: Sequence[Prepared], k: int, seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import StratifiedGroupKFold

    y = np.array([p.doc.relevant for p in prepared])
    groups = np.array([p.doc.group for p in prepared])
    cv = StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    return [test for _, test in cv.split(np.zeros(len(y)), y, groups)]


def cross_validate(
    prepared: Sequence[Prepared],
    registry: Registry,
    *,
    folds: int,
    c: float,
    seed: int,
    log: Callable[[str], None],
    on_result: Callable[[LabelledText, TagResult], None] | None = None,
) -> dict[str, dict[str, dict[str, Counts]]]:
    """{"model"|"registry": {slice: {label: Counts}}}; slices: all, gold, real, handwritten,
    lang:xx (dev texts of each language), n:<slice> (texts in the slice, as relevance Counts of
    tp = n). `on_result` sees every held-out text with the model's verdict on it."""
    table: dict[str, dict[str, dict[str, Counts]]] = {
        "model": defaultdict(lambda: defaultdict(Counts)),
        "registry": defaultdict(lambda: defaultdict(Counts)),
    }
    calibration: list[tuple[float, bool]] = []
    for i, test in enumerate(_folds(prepared, folds, seed)):
        held = set(test.tolist())
        train = [p for j, p in enumerate(prepared) if j not in held]
        model, _ = fit(train, registry, c=c, folds=3, seed=seed)  # inner folds: 3 keep it quick
        tagger = build_tagger(registry, (), model)
        log(f"  fold {i + 1}/{folds}: trained on {len(train)}, tagging {len(test)}")
        for j in test:
            p = prepared[j]
            d = p.doc
            got = tagger.tag(d.text, title=d.title, published=d.published)
            if on_result is not None:
                on_result(d, got)
            calibration.append((got.relevance, d.relevant))
            calibration += [
                (t.score, t.id in d.themes) for t in got.themes if labelled_for(p, t.id)
            ]
            for name, res in (("model", got), ("registry", p.registry)):
                for sl in ("all", d.source, f"lang:{d.language}", f"lang:{d.language}:{d.source}"):
                    table[name][sl]["relevance"].add(d.relevant, res.relevant)
                    table[name][sl]["n"].tp += 1
                    for t in registry.themes:
                        if labelled_for(p, t.id):
                            table[name][sl][t.id].add(t.id in d.themes, t.id in res.theme_ids)
    log(reliability(calibration))
    return table


def reliability(pairs: Sequence[tuple[float, bool]]) -> str:
    """Held-out scores by bin against how often the label was true: calibration at a glance.
    Rows: relevance scores of every text, and the scores of the themes asserted."""
    lines = ["reliability (held-out relevance and asserted-theme scores):", "  bin    n  observed"]
    for lo in (0.0, 0.2, 0.4, 0.6, 0.8):
        hi = lo + 0.2
        inside = [y for p, y in pairs if lo <= p < hi or (hi >= 1.0 and p == 1.0)]
        rate = f"{sum(inside) / len(inside):.2f}" if inside else "-"
        lines.append(f"  {lo:.1f}-{hi:.1f} {len(inside):4d}  {rate}")
    return "\n".join(lines)


def report(table: dict[str, dict[str, dict[str, Counts]]], themes: Sequence[str]) -> str:
    lines = []
    for sl in sorted(table["model"], key=lambda s: (s != "all", s != "real", s)):
        rows = table["model"][sl]
        lines.append(f"\n== {sl} ==  (n {rows['n'].tp})")
        lines.append(
            f"{'label':26} {'supp':>5} | {'model P':>7} {'R':>6} {'F1':>6} | "
            f"{'registry P':>10} {'R':>6} {'F1':>6}"
        )
        micro = {"model": Counts(), "registry": Counts()}
        for label in ("relevance", *themes):
            if label not in rows:
                continue
            m, r = rows[label], table["registry"][sl][label]
            if label != "relevance":
                for name, cnt in (("model", m), ("registry", r)):
                    micro[name].tp += cnt.tp
                    micro[name].fp += cnt.fp
                    micro[name].fn += cnt.fn
            mp, mr, mf = m.prf()
            rp, rr, rf = r.prf()
            lines.append(
                f"{label:26} {m.tp + m.fn:5d} | {mp:7.3f} {mr:6.3f} {mf:6.3f} | "
                f"{rp:10.3f} {rr:6.3f} {rf:6.3f}"
            )
        mp, mr, mf = micro["model"].prf()
        rp, rr, rf = micro["registry"].prf()
        sup = micro["model"].tp + micro["model"].fn
        lines.append(
            f"{'themes micro':26} {sup:5d} | {mp:7.3f} {mr:6.3f} {mf:6.3f} | "
            f"{rp:10.3f} {rr:6.3f} {rf:6.3f}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL_PATH, help="model file to write")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds")
    ap.add_argument("--c", type=float, default=1.0, help="inverse L2 regularisation strength")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validated figures")
    ap.add_argument("--gold-only", action="store_true", help="ignore the real-text dev set")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    registry = load_registry()
    tagger = build_tagger(registry)
    docs = load_gold() + ([] if args.gold_only else load_dev())
    if not docs:
        log("no labelled texts found")
        return 2
    log(
        f"labelled texts: {sum(d.source == 'gold' for d in docs)} hand-written (gold), "
        f"{sum(d.source == 'real' for d in docs)} real and "
        f"{sum(d.source == 'handwritten' for d in docs)} hand-written of the dev split"
    )
    prepared = prepare(tagger, docs)
    themes = [t.id for t in registry.themes]
    if not args.no_cv:
        log(f"cross-validating ({args.folds} folds, grouped by story)...")
        table = cross_validate(
            prepared, registry, folds=args.folds, c=args.c, seed=args.seed, log=log
        )
        print("Cross-validated on the development data (model vs registry alone):")
        print(report(table, themes))
    model, _ = fit(prepared, registry, c=args.c, folds=args.folds, seed=args.seed, log=log)
    version = write(model, args.out)
    size = args.out.stat().st_size
    loaded = load_model(args.out)
    print(
        f"\nwrote {args.out} ({size / 1024:.0f} KiB, version {version}): outputs "
        f"{', '.join(loaded.outputs)}; {len(loaded.buckets)} hashed buckets, "
        f"{len(loaded.signal_names)} registry signals"
    )
    print("thresholds: " + ", ".join(f"{k}={v:.2f}" for k, v in loaded.thresholds.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
