"""What the spam filter costs a comment POST and a moderator's click, on the database.

Learns the YouTube Spam Collection's decisions through the service (as clicks would, into
a scratch SQLite or PostgreSQL database), then times scoring a new comment (one read of
its ~100 feature rows and the sum) and learning one more decision (a read, ~100 upserts),
inside a transaction as the POST and the click run them. Medians of many; the goals are
under 1 ms and under 5 ms. Prints the model's rows: bounded by blog.spam.BUCKETS.

    .venv/bin/python bench/spam_speed.py [--decisions 20000] [--database postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import spam_corpus  # noqa: E402
from run import scratch  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    parser.add_argument("--database", default="")
    args = parser.parse_args()
    with scratch("spamspeed", args.database) as (folder, database):
        database = database or f"sqlite:///{folder / 'blog.db'}"
        return run(database, args.decisions, folder)


def run(database: str, decisions: int, folder: Path) -> int:
    os.environ["BLOG_INSTANCE_PATH"] = str(folder / "instance")
    from flask_migrate import upgrade

    from blog import create_app, spam
    from blog.extensions import db
    from blog.services import spam as spam_service

    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SECRET_KEY": "bench"})
    labelled, _ = spam_corpus.load()
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        for n in range(decisions):
            sample, is_spam = labelled[n % len(labelled)]
            # Variations, so the vocabulary grows as a real site's does.
            varied = spam.Sample(f"{sample.content} v{n // len(labelled)}", sample.author)
            spam_service.learn(varied, is_spam)
            if n % 500 == 499:
                db.session.commit()
        db.session.commit()
        learning = time.perf_counter() - started
        rows = spam_service.model_size()
        probes = [spam.Sample(s.content + " fresh", s.author) for s, _ in labelled[:400]]
        scores, learns = [], []
        for probe in probes:
            t = time.perf_counter()
            spam_service.score(probe)
            scores.append(time.perf_counter() - t)
            db.session.rollback()
        for probe, (_, is_spam) in zip(probes, labelled[:400], strict=True):
            t = time.perf_counter()
            spam_service.learn(probe, is_spam)
            db.session.flush()
            learns.append(time.perf_counter() - t)
            db.session.rollback()
    kind = "PostgreSQL" if database.startswith("postgresql") else "SQLite"
    print(
        f"{kind}: learned {decisions:,} decisions in {learning:.1f} s; model {rows:,} rows "
        f"(at most {spam.BUCKETS:,})"
    )
    print(
        f"score a comment:    median {statistics.median(scores) * 1000:.2f} ms, "
        f"p95 {sorted(scores)[int(len(scores) * 0.95)] * 1000:.2f} ms  (goal < 1 ms)"
    )
    print(
        f"learn one decision: median {statistics.median(learns) * 1000:.2f} ms, "
        f"p95 {sorted(learns)[int(len(learns) * 0.95)] * 1000:.2f} ms  (goal < 5 ms)"
    )
    return 0


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        sys.exit(main())
