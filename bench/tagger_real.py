"""Quality of the current tagger on the real-text labelled set (tests/data/real, issue 11).

    .venv/bin/python bench/tagger_real.py [--split dev|test|all] [--origin real|handwritten|all]
                                          [--json] [--errors] [--eval-dir DIR]

Tags every labelled item as the pipeline would (text, title unless repeated, publication date)
with the bundled registries, and prints relevance P/R/F1, theme micro-F1 (all nine themes and the
five watched ones), per-theme P/R/F1 with the watched themes first, the watched themes as a
`relevant_only` alert rule sees them, actor micro-F1, and the same headline figures per language
(with n) and for real and hand-written items separately. Real items need the evaluation folder
(`$SPACEWATCH_EVAL_DIR`, else `shared/eval` beside the repository).

Tune on `--split dev` only; `test` is the held-out figure. `--errors` lists per-item mistakes and
is refused on the test split so that test items do not leak into tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from spacewatch.seeds.realscore import Report, Score, Summary, predict, report
from spacewatch.seeds.realset import SPLITS, LabelledItem, RealSetError, load_realset
from spacewatch.seeds.tagging import load_tagger


def _row(name: str, s: Score) -> str:
    return (
        f"  {name:28} P {s.precision:5.3f}  R {s.recall:5.3f}  F1 {s.f1:5.3f}"
        f"   support {s.support:4d}  fp {s.fp:3d}  fn {s.fn:3d}"
    )


def _summary_row(name: str, s: Summary) -> str:
    return (
        f"  {name:12} n {s.n:4d}  rel F1 {s.relevance.f1:5.3f} (supp {s.relevance.support:3d})"
        f"  themes F1 {s.themes_micro.f1:5.3f}  watched F1 {s.watched_micro.f1:5.3f}"
        f" (supp {s.watched_micro.support:3d})  actors F1 {s.actors_micro.f1:5.3f}"
        f"  not judged {s.themes_not_judged:3d}"
    )


def render(rep: Report, title: str) -> str:
    o = rep.overall
    lines = [
        title,
        "",
        f"items: {o.n}   themes not judged (language without theme phrases): {o.themes_not_judged}",
        _row("relevance", o.relevance),
        _row("themes micro (9)", o.themes_micro),
        _row("watched themes micro (5)", o.watched_micro),
        _row("actors micro", o.actors_micro),
        "",
        "per theme (watched first):",
        *(_row(s.label, s) for s in rep.themes),
        "",
        "watched themes as a relevant_only alert rule sees them (theme AND relevant):",
        *(_row(s.label, s) for s in rep.alerts),
        "",
        "per language:",
        *(_summary_row(k, v) for k, v in rep.by_language),
        "",
        "real vs hand-written:",
        *(_summary_row(k, v) for k, v in rep.by_origin),
    ]
    return "\n".join(lines)


def errors(results: list[tuple[LabelledItem, object]]) -> list[str]:
    out = []
    for item, p in results:
        msgs = []
        if item.relevant != p.relevant:  # type: ignore[attr-defined]
            msgs.append(f"relevant gold={item.relevant} got={p.relevant}")  # type: ignore[attr-defined]
        missing = sorted(item.themes - p.themes)  # type: ignore[attr-defined]
        extra = sorted(p.themes - item.themes)  # type: ignore[attr-defined]
        if missing or extra:
            msgs.append(f"themes missing={missing} extra={extra}")
        a_missing = sorted(item.actors - p.actors)  # type: ignore[attr-defined]
        a_extra = sorted(p.actors - item.actors)  # type: ignore[attr-defined]
        if a_missing or a_extra:
            msgs.append(f"actors missing={a_missing} extra={a_extra}")
        if msgs:
            out.append(f"{item.id} [{item.language}]: " + "; ".join(msgs))
    return out


def cross_validated(folds: int, show_errors: bool) -> int:
    """Grouped K-fold figures over the gold set plus the dev split (spacewatch.seeds.train_model):
    per label P/R/F1 of the model and of the registry alone, for all texts, real and hand-written
    apart, and per language (`lang:xx`, and `lang:xx:real` / `lang:xx:handwritten`) with n."""
    from spacewatch.seeds import train_model as tm
    from spacewatch.seeds.registry import load_registry
    from spacewatch.seeds.tagger import build_tagger

    registry = load_registry()
    prepared = tm.prepare(build_tagger(registry), tm.load_gold() + tm.load_dev())
    wrong: list[str] = []

    def note(d: tm.LabelledText, got: object) -> None:
        themes = set(got.theme_ids)  # type: ignore[attr-defined]
        if d.source != "gold" and (got.relevant != d.relevant or themes != set(d.themes)):  # type: ignore[attr-defined]
            wrong.append(
                f"{d.id} [{d.language}]: relevant gold={d.relevant} "
                f"got={got.relevant} ({got.relevance:.2f}); themes missing="  # type: ignore[attr-defined]
                f"{sorted(set(d.themes) - themes)} extra={sorted(themes - set(d.themes))}"
            )

    table = tm.cross_validate(
        prepared,
        registry,
        folds=folds,
        c=1.0,
        seed=7,
        log=lambda m: print(m, file=sys.stderr),
        on_result=note,
    )
    print(f"Cross-validated ({folds} folds, grouped by story) on gold + the dev split:")
    print(tm.report(table, [t.id for t in registry.themes]))
    if show_errors:
        print("\nheld-out errors (real and hand-written dev items):")
        print("\n".join(wrong))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=[*SPLITS, "all"], default="dev")
    ap.add_argument("--origin", choices=["real", "handwritten", "all"], default="all")
    ap.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    ap.add_argument("--errors", action="store_true", help="list per-item mistakes (dev only)")
    ap.add_argument(
        "--model",
        default=None,
        help='a model file, or "none" for the registries alone (default: the shipped model)',
    )
    ap.add_argument(
        "--eval-dir", help="evaluation folder (default: $SPACEWATCH_EVAL_DIR or shared/eval)"
    )
    ap.add_argument(
        "--cv",
        type=int,
        metavar="K",
        help="K-fold cross-validated figures on the dev split instead: each fold tagged by a "
        "model trained (as train_model does, on gold + the other folds) without it",
    )
    args = ap.parse_args(argv)
    if args.cv:
        if args.split != "dev":
            print("--cv runs on the dev split only (test stays held out)", file=sys.stderr)
            return 2
        return cross_validated(args.cv, args.errors)
    if args.errors and args.split != "dev":
        print(
            "--errors lists items; it only runs on --split dev (test stays held out)",
            file=sys.stderr,
        )
        return 2
    splits = SPLITS if args.split == "all" else (args.split,)
    origins = ("real", "handwritten") if args.origin == "all" else (args.origin,)
    try:
        items = load_realset(splits, eval_dir=args.eval_dir, origins=origins)
    except RealSetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    tagger, registry, version = load_tagger((None, None, None, args.model))
    started = time.perf_counter()
    results = [(item, predict(tagger, item)) for item in items]
    seconds = time.perf_counter() - started
    rep = report(results, [t.id for t in registry.themes])
    if args.json:
        doc = {
            "split": args.split,
            "origin": args.origin,
            "registry_version": version,
            "seconds": round(seconds, 3),
            **rep.as_dict(),
        }
        print(json.dumps(doc, indent=2, sort_keys=False))
    else:
        title = (
            f"tagger {version} on the real-text set: split={args.split} origin={args.origin}"
            f"  ({len(items)} items tagged in {seconds:.2f} s)"
        )
        print(render(rep, title))
    if args.errors:
        print("\nerrors:")
        print("\n".join(errors(results)))  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
