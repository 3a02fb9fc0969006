"""The spam filter on a public corpus (the YouTube Spam Collection, tests/data/youtube-spam):
each video's comments scored by a filter that learned only from the other four's decisions,
in the order they were written. The goals of issue 10 hold with the default thresholds.

Deterministic (no random order but a seeded one), and about 12 s of CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import spam_corpus  # noqa: E402

from blog.moderation import DiscussionSettings  # noqa: E402


@pytest.fixture(scope="module")
def measured():
    return {run.name: run.result for run in spam_corpus.measure()}


def test_the_corpus_is_all_there():
    labelled, groups = spam_corpus.load()
    assert len(labelled) == 1956 and sum(s for _, s in labelled) == 1005
    assert sorted(set(groups)) == ["Eminem", "KatyPerry", "LMFAO", "Psy", "Shakira"]


def test_it_ranks_unseen_spam_above_unseen_good_comments(measured):
    assert measured["logistic, learned as decided"].auc >= 0.97
    assert measured["logistic, retrained"].auc >= 0.97


def test_the_default_thresholds_meet_the_goals_once_retrained(measured):
    settings = DiscussionSettings()
    result = measured["logistic, retrained"]
    spammed = result.at(settings.spam_percent / 100)
    assert spammed.false_positive < 0.01, "fewer than 1% of good comments sent to spam"
    assert spammed.caught >= 0.80, "at least 80% of spam sent to spam"
    held = result.at(settings.spam_hold_percent / 100)
    assert held.caught >= 0.95, "at least 95% of spam held or spammed"


def test_learned_only_as_decided_it_errs_on_the_side_of_good_comments(measured):
    """Between retrains the model is the one moderation alone trains: it catches less,
    and sends no more good comments to spam."""
    settings = DiscussionSettings()
    result = measured["logistic, learned as decided"]
    assert result.at(settings.spam_percent / 100).false_positive < 0.01


def test_logistic_regression_was_chosen_by_measuring(measured):
    assert measured["logistic, retrained"].auc > measured["bayes, learned as decided"].auc
