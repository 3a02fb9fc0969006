"""The spam filter measured on a public labelled corpus: the YouTube Spam Collection.

Five videos' comments (1,956 in all, labelled spam or not by hand; tests/data/youtube-spam,
CC BY 4.0, see SOURCE.md there). Each video in turn is the unseen source: the filter learns
from the other four's comments in the order they were written (their dates), one decision
at a time as moderators would make them, and scores the fifth. Two ways of learning are
measured: from each decision once as it comes (what moderating alone does), and retrained
from scratch over the same decisions (``flask spam retrain``, five passes). Reported: ROC
AUC over every held-out score, and at the hold and spam scores the share of spam caught and
of good comments wrongly caught.

    .venv/bin/python bench/spam_corpus.py [--hold 25] [--spam 90]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blog import spam  # noqa: E402
from blog.moderation import DiscussionSettings  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "youtube-spam"


def load(folder: Path = CORPUS) -> tuple[list[tuple[spam.Sample, bool]], list[str]]:
    """(sample, is spam) for every comment in the order they were written, and the video
    each came from."""
    rows = []
    for path in sorted(folder.glob("Youtube0*.csv")):
        video = path.stem.split("-", 1)[1]
        with path.open(encoding="utf-8", newline="") as handle:
            for n, row in enumerate(csv.DictReader(handle)):
                # UCI names the label column CLASS; some copies call it label.
                is_spam = (row.get("CLASS") or row.get("label")) == "1"
                sample = spam.Sample(content=row["CONTENT"], author=row["AUTHOR"])
                rows.append((row["DATE"] or "", video, n, sample, is_spam))
    rows.sort(key=lambda row: row[:3])
    return [(row[3], row[4]) for row in rows], [row[1] for row in rows]


@dataclass(frozen=True)
class Measured:
    name: str
    result: spam.Evaluation
    seconds: float


def measure() -> list[Measured]:
    """Every learner learned as decided, and the logistic one retrained."""
    labelled, groups = load()
    runs = [
        *((f"{kind}, learned as decided", spam.MODELS[kind](), 1) for kind in sorted(spam.MODELS)),
        ("logistic, retrained", spam.LogisticRegression(), spam.RETRAIN_EPOCHS),
    ]
    measured = []
    for name, model, epochs in runs:
        started = time.perf_counter()
        result = spam.cross_validate(model, labelled, groups=groups, epochs=epochs)
        measured.append(Measured(name, result, time.perf_counter() - started))
    return measured


def main() -> int:
    defaults = DiscussionSettings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hold", type=int, default=defaults.spam_hold_percent, help="percent")
    parser.add_argument("--spam", type=int, default=defaults.spam_percent, help="percent")
    args = parser.parse_args()
    labelled, groups = load()
    print(
        f"{len(labelled)} comments, {sum(s for _, s in labelled)} spam; each of "
        f"{', '.join(sorted(set(groups)))} scored by a filter that never saw it"
    )
    print(
        f"{'learner':30} {'ROC AUC':>8}  {'hold ' + str(args.hold) + '%: spam caught':>24} "
        f"{'good held':>10}  {'spam ' + str(args.spam) + '%: spam caught':>24} "
        f"{'good spammed':>13}"
    )
    for run in measure():
        hold, spammed = run.result.at(args.hold / 100), run.result.at(args.spam / 100)
        print(
            f"{run.name:30} {run.result.auc:8.4f}  {hold.caught:24.1%} "
            f"{hold.false_positive:10.1%}  {spammed.caught:24.1%} "
            f"{spammed.false_positive:13.1%}   ({run.seconds:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
