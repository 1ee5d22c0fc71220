"""Cross-modal retrieval and emotion agreement of the shared view, relative vs absolute (Procrustes).

The numbers issue 9 reports, on the shipped parallel set (210 items: text,
speech, face), with the bundled text model and the classical speech and
image encoders; anchors: 42 items of the training situations, 6 per emotion.

    PYTHONPATH=$PWD python benchmarks/shared_view_numbers.py [--faces-by speaker|id]

Prints, for the spaces as encoded and with each modality's nuisance factor
removed (situation / speaker / person), one row per (query, target) pair and
view: top-1 / top-5 retrieval of the item's own counterpart among the 168
held-out items, MRR, and cross-modal emotion agreement at k = 10.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

import workbench as wb


def spaces_for(items: pd.DataFrame, *, clean: bool) -> dict:
    text = wb.encode(wb.encoders.default_text_model(), items, layers=[-1], progress=False)[-1]
    speech = wb.encode_acoustic(items, per="speaker" if clean else None)
    vision = wb.encode_image_features(items, size=48)
    if clean:
        text = wb.center_by(text, "context")
        if items["identity"].nunique() < len(items):  # only when people repeat can their mean go
            vision = wb.center_by(vision, "identity")
    return {"text": text, "speech": speech, "vision": vision}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces-by", default="speaker", choices=["speaker", "id"])
    parser.add_argument("--anchors", type=int, default=42)
    args = parser.parse_args()
    pd.set_option("display.width", 200)
    pd.set_option("display.precision", 3)
    items = wb.load_parallel(faces_by=args.faces_by)
    for clean in (False, True):
        start = time.perf_counter()
        spaces = spaces_for(items, clean=clean)
        train = spaces["text"].subset(spaces["text"].labels("split") == "train")
        anchors = wb.select_anchors(train, args.anchors, strategy="stratified", by="emotion", seed=0)
        view = wb.shared_view(spaces, anchors=anchors)
        summary = view.summary()
        within = view.agreement()
        title = "nuisance removed" if clean else "as encoded"
        print(f"\n== {title} (faces_by={args.faces_by}, {args.anchors} anchors, {time.perf_counter() - start:.0f} s)")
        print(summary[["view", "query", "target", "top1", "top5", "mrr", "agreement"]].to_string(index=False))
        chance = summary.iloc[0]
        print(f"chance: top1 {chance['chance_top1']:.3f}  top5 {chance['chance_top5']:.3f}  "
              f"agreement {chance['chance_agreement']:.3f}")
        print("within-modality agreement (relative):",
              {key: round(float(within.loc[key, key]), 3) for key in within.index})
        means = summary.groupby("view")[["top1", "top5", "mrr", "agreement"]].mean()
        print("means over the six pairs:\n" + means.to_string())


if __name__ == "__main__":
    main()
