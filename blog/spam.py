"""A spam filter that learns from the moderators' decisions. Pure: features in, score out.

A comment is described by named features: its words and word pairs, its links and their
domains, the name, email domain and website it was sent with, how fast the form was filled,
the scripts it is written in, and whether its author is known. Each name is hashed into one
of ``BUCKETS`` buckets, so the model never holds more than that many numbers however many
comments it learns from (a million comments, or ten). The model is a table of two numbers
per bucket that the caller keeps (the database: ``blog.services.spam``); this module turns
features into a score between 0 and 1 with the features that weighed most, and a decision
("spam" or "not spam") into the changes to that table. It also measures: cross-validation,
ROC AUC, and what a threshold catches and what it wrongly catches.

Two learners, chosen between by measuring (``flask spam evaluate`` reports both; the README
has the figures): online logistic regression with AdaGrad steps (``LogisticRegression``,
the default) and Robinson-style naive Bayes (``NaiveBayes``). In both, a feature the model
has never seen weighs nothing.
"""

from __future__ import annotations

import hashlib
import html
import math
import random
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

__all__ = [
    "BIAS",
    "BUCKETS",
    "LogisticRegression",
    "MODELS",
    "NaiveBayes",
    "Sample",
    "Score",
    "Weights",
    "bucket",
    "features",
    "roc_auc",
    "threshold_rates",
]

#: How many numbers a model holds at most (two per bucket): 2^20 buckets keep collisions
#: rare for the vocabulary of a busy site while bounding the table at a million rows.
BUCKETS = 1 << 20
#: The bucket of the model's own numbers (the bias, the class counts); never a feature's.
BIAS = -1
#: Weights as the caller keeps them: bucket -> (first number, second number).
Weights = Mapping[int, tuple[float, float]]

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)?")
_TAG = re.compile(r"<[^>]*>")
_HREF = re.compile(r"""href\s*=\s*["']?([^"'\s>]+)""", re.IGNORECASE)
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"'\]\[)(]+"
    r"|\b(?:[\w-]+\.)+(?:com|net|org|info|biz|ly|gl|co|io|me|us|ru|cn|xyz|top|tk|uk|de|in|ws|cc"
    r"|tv|be|fm|to|online|site|club|shop|store|live)\b(?:/[^\s<>\"'\]\[)(]*)?",
    re.IGNORECASE,
)
_SHORTENERS = frozenset(
    {"bit.ly", "goo.gl", "tinyurl.com", "t.co", "ow.ly", "is.gd", "buff.ly", "adf.ly", "cutt.ly"}
)
_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "ac", "gov", "edu"})
_MAX_TOKENS = 400  # words looked at per comment: bounds the work on a 65,000-character one
_SCRIPTS = (
    ("LATIN", "latin"),
    ("CYRILLIC", "cyrillic"),
    ("GREEK", "greek"),
    ("ARABIC", "arabic"),
    ("HEBREW", "hebrew"),
    ("CJK", "han"),
    ("HIRAGANA", "kana"),
    ("KATAKANA", "kana"),
    ("HANGUL", "hangul"),
    ("DEVANAGARI", "devanagari"),
    ("THAI", "thai"),
)


@dataclass(frozen=True)
class Sample:
    """What the filter knows of a comment."""

    content: str  # the raw text as typed (HTML allowed in comments included)
    author: str = ""
    email: str = ""
    url: str = ""
    # seconds between showing the form and the POST; None when unknown (API, import)
    seconds_to_fill: float | None = None
    # the author is known by a signal harder to forge than a typed email (logged in, a
    # confirmed email, the same email, name and network as an approved comment)
    trusted: bool = False
    # approved comments of the author so far
    approved_before: int = 0


def _domain(url: str) -> str:
    """The registrable part of a link's host ("shop.example.co.uk" -> "example.co.uk")."""
    url = url.strip().lower()
    url = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url)
    host = re.split(r"[/?#:]", url, maxsplit=1)[0].strip(".")
    host = host.removeprefix("www.")
    parts = [p for p in host.split(".") if p]
    if len(parts) >= 3 and parts[-2] in _SECOND_LEVEL and len(parts[-1]) == 2:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    for prefix, script in _SCRIPTS:
        if name.startswith(prefix):
            return script
    return "other"


def _bucketed(value: float, bounds: Sequence[float], labels: Sequence[str]) -> str:
    for bound, label in zip(bounds, labels, strict=False):
        if value < bound:
            return label
    return labels[-1]


def features(sample: Sample) -> list[str]:
    """The comment's features, by name (each present once; a feature's value is 1).

    Names say what they are, for the moderator reading why: ``w:subscribe`` (a word),
    ``b:check out`` (two words in a row), ``link:example.com`` (a linked domain),
    ``links:2`` (how many links), ``name:…``, ``email:…``, ``site:…``, ``fill:…``,
    ``script:…``, ``author:…``.
    """
    raw = sample.content
    text = html.unescape(_TAG.sub(" ", raw)).casefold()
    names: set[str] = set()

    urls = [*_HREF.findall(raw), *_URL.findall(html.unescape(raw))]
    domains = {d for d in (_domain(u) for u in urls) if d}
    link_count = len(set(urls))
    names.add(f"links:{min(link_count, 3)}{'+' if link_count > 3 else ''}")
    for domain in domains:
        names.add(f"link:{domain}")
        if domain in _SHORTENERS:
            names.add("link:shortener")

    # Words, with the links taken out (their domains are features of their own).
    words = [
        "#" if token.isdigit() else token[:30]
        for token in _TOKEN.findall(_URL.sub(" ", text))[:_MAX_TOKENS]
    ]
    names.update(f"w:{word}" for word in words)
    names.update(f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False))
    names.add(
        "len:"
        + _bucketed(
            len(raw), (20, 60, 200, 600, 2000), ("<20", "<60", "<200", "<600", "<2000", "2000+")
        )
    )

    letters = [c for c in raw if c.isalpha()]
    if len(letters) >= 10:
        upper = sum(1 for c in letters if c.isupper()) / len(letters)
        if upper > 0.5:
            names.add("shape:mostly capitals")
    if raw.count("!") >= 3:
        names.add("shape:!!!")
    scripts = {s for s in (_script(c) for c in letters[:2000]) if s}
    names.update(f"script:{s}" for s in scripts)
    if len(scripts) > 1:
        names.add("script:mixed")

    author = sample.author.strip().casefold()
    for token in _TOKEN.findall(author)[:8]:
        names.add(f"name:{token[:30]}")
    if not author:
        names.add("name:(none)")
    elif any(c.isdigit() for c in author):
        names.add("name:has digits")
    if _URL.search(author):
        names.add("name:has a link")

    email = sample.email.strip().casefold()
    names.add(f"email:{email.rsplit('@', 1)[1]}" if "@" in email else "email:(none)")
    names.add(f"site:{_domain(sample.url)}" if sample.url.strip() else "site:(none)")

    fill = sample.seconds_to_fill
    names.add(
        "fill:unknown"
        if fill is None
        else "fill:"
        + _bucketed(fill, (3, 10, 60, 600), ("<3 s", "<10 s", "<1 min", "<10 min", "10 min+"))
    )
    if sample.trusted:
        names.add("author:trusted")
    names.add("author:approved before" if sample.approved_before else "author:never approved")
    return sorted(names)


@lru_cache(maxsize=1 << 16)
def bucket(name: str) -> int:
    """The bucket a feature's numbers are kept in (stable across processes and versions;
    remembered, as the same words come back in comment after comment)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Score:
    """How likely spam (0..1), and the features that pushed it most, strongest first."""

    probability: float
    spammy: tuple[tuple[str, float], ...] = ()  # (feature, weight) pushing towards spam
    hammy: tuple[tuple[str, float], ...] = ()  # (feature, weight) pushing away from it
    links: str = "0"  # how many links the comment has ("3+" past three)

    def explain(self, limit: int = 3) -> str:
        """For the moderator: "spam score 0.97: 'subscribe', 'check out', 2 links to x"."""
        side = self.spammy if self.probability >= 0.5 else self.hammy
        said = [self._phrase(name) for name, _ in side[:limit]]
        head = f"spam score {self.probability:.2f}"
        return f"{head}: {', '.join(said)}" if said else head

    def _phrase(self, name: str) -> str:
        kind, _, value = name.partition(":")
        if kind in ("w", "b"):
            return f"'{value}'"
        if kind == "link":
            many = self.links not in ("0", "1")
            return f"{self.links} links to {value}" if many else f"a link to {value}"
        if kind == "links":
            return f"{value} link{'' if value == '1' else 's'}"
        labels = {
            "name": "name {}",
            "email": "email at {}",
            "site": "website {}",
            "fill": "form filled in {}",
            "script": "{} script",
            "author": "author {}",
            "len": "{} characters",
            "shape": "{}",
        }
        if value == "(none)":
            return f"no {'website' if kind == 'site' else kind}"
        return labels[kind].format(value) if kind in labels else name


class Model(Protocol):
    """A learner: its numbers live in the caller's table, keyed by bucket."""

    kind: str

    def score(self, weights: Weights, names: Sequence[str]) -> Score: ...

    def update(
        self, weights: Weights, names: Sequence[str], is_spam: bool
    ) -> dict[int, tuple[float, float]]: ...


@dataclass(frozen=True)
class LogisticRegression:
    """Online logistic regression: per bucket (weight, sum of squared gradients); a step
    for each decision, its size shrinking per feature as AdaGrad's does, with a little L2
    so a feature seen once does not dominate. The bias lives in bucket ``BIAS``."""

    kind: str = "logistic"
    rate: float = 0.5
    l2: float = 1e-4

    def _margin(self, weights: Weights, buckets: Sequence[int]) -> float:
        return weights.get(BIAS, (0.0, 0.0))[0] + sum(
            weights.get(b, (0.0, 0.0))[0] for b in buckets
        )

    def score(self, weights: Weights, names: Sequence[str]) -> Score:
        buckets = [bucket(n) for n in names]
        contributions = [
            (n, weights.get(b, (0.0, 0.0))[0]) for n, b in zip(names, buckets, strict=True)
        ]
        return _scored(_sigmoid(self._margin(weights, buckets)), contributions)

    def update(
        self, weights: Weights, names: Sequence[str], is_spam: bool
    ) -> dict[int, tuple[float, float]]:
        buckets = sorted({bucket(n) for n in names} | {BIAS})
        gradient = _sigmoid(self._margin(weights, [b for b in buckets if b != BIAS])) - (
            1.0 if is_spam else 0.0
        )
        changed = {}
        for b in buckets:
            weight, squares = weights.get(b, (0.0, 0.0))
            g = gradient + (self.l2 * weight if b != BIAS else 0.0)
            squares += g * g
            weight -= self.rate * g / (1.0 + math.sqrt(squares))
            changed[b] = (weight, squares)
        return changed


@dataclass(frozen=True)
class NaiveBayes:
    """Robinson-style naive Bayes: per bucket (spam comments with it, good comments with
    it); the class totals in bucket ``BIAS``. A feature's spamminess is pulled towards 0.5
    by ``strength`` imaginary sightings, so a rare one says little and an unseen one
    nothing; the log-odds of the features are summed."""

    kind: str = "bayes"
    strength: float = 1.0

    def score(self, weights: Weights, names: Sequence[str]) -> Score:
        spam_total, ham_total = weights.get(BIAS, (0.0, 0.0))
        contributions = []
        for name in names:
            spam, ham = weights.get(bucket(name), (0.0, 0.0))
            seen = spam + ham
            if not seen or not spam_total or not ham_total:
                contributions.append((name, 0.0))
                continue
            s_rate, h_rate = spam / spam_total, ham / ham_total
            p = s_rate / (s_rate + h_rate)
            f = (self.strength * 0.5 + seen * p) / (self.strength + seen)
            contributions.append((name, math.log(f / (1.0 - f))))
        prior = math.log((spam_total + 1) / (ham_total + 1))
        return _scored(_sigmoid(prior + sum(c for _, c in contributions)), contributions)

    def update(
        self, weights: Weights, names: Sequence[str], is_spam: bool
    ) -> dict[int, tuple[float, float]]:
        changed = {}
        for b in sorted({bucket(n) for n in names} | {BIAS}):
            spam, ham = weights.get(b, (0.0, 0.0))
            changed[b] = (spam + 1, ham) if is_spam else (spam, ham + 1)
        return changed


def _scored(probability: float, contributions: list[tuple[str, float]]) -> Score:
    ranked = sorted(contributions, key=lambda pair: pair[1], reverse=True)
    links = next((n.split(":", 1)[1] for n, _ in contributions if n.startswith("links:")), "0")
    return Score(
        probability,
        spammy=tuple(pair for pair in ranked if pair[1] > 0),
        hammy=tuple(pair for pair in reversed(ranked) if pair[1] < 0),
        links=links,
    )


MODELS: dict[str, Callable[[], Model]] = {
    "logistic": LogisticRegression,
    "bayes": NaiveBayes,
}


# --- measuring ----------------------------------------------------------------------------


#: Passes over the decisions when retraining from scratch: one pass (what moderation
#: alone gives) underfits; more than five gains nothing measurable (README).
RETRAIN_EPOCHS = 5


def train(
    model: Model,
    labelled: Sequence[tuple[Sample, bool]],
    weights: dict[int, tuple[float, float]] | None = None,
    epochs: int = 1,
    seed: int = 0,
) -> dict[int, tuple[float, float]]:
    """Learn from ``labelled`` decisions one at a time: in their order (time order, as
    moderation would), then ``epochs - 1`` more times in shuffled orders."""
    weights = {} if weights is None else weights
    rng = random.Random(seed)
    order = list(range(len(labelled)))
    for epoch in range(epochs):
        if epoch:
            rng.shuffle(order)
        for i in order:
            sample, is_spam = labelled[i]
            weights.update(model.update(weights, features(sample), is_spam))
    return weights


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The probability that a random spam comment scores above a random good one (ties
    count half): the area under the ROC curve, from the ranks."""
    pairs = sorted(zip(scores, labels, strict=True))
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum, i = 0.0, 0
    while i < len(pairs):
        j = i
        while j < len(pairs) and pairs[j][0] == pairs[i][0]:
            j += 1
        mean_rank = (i + 1 + j) / 2
        rank_sum += mean_rank * sum(1 for k in range(i, j) if pairs[k][1])
        i = j
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass(frozen=True)
class Rates:
    threshold: float
    caught: float  # share of spam at or above the threshold (recall)
    false_positive: float  # share of good comments at or above it
    precision: float


def threshold_rates(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> Rates:
    flagged = [label for score, label in zip(scores, labels, strict=True) if score >= threshold]
    positives = sum(labels) or 1
    negatives = (len(labels) - sum(labels)) or 1
    caught = sum(flagged)
    return Rates(
        threshold,
        caught / positives,
        (len(flagged) - caught) / negatives,
        caught / len(flagged) if flagged else 1.0,
    )


@dataclass
class Evaluation:
    """Scores of comments the model had not learned from, and what they add up to."""

    scores: list[float] = field(default_factory=list)
    labels: list[bool] = field(default_factory=list)

    @property
    def auc(self) -> float:
        return roc_auc(self.scores, self.labels)

    def at(self, threshold: float) -> Rates:
        return threshold_rates(self.scores, self.labels, threshold)


def cross_validate(
    model: Model,
    labelled: Sequence[tuple[Sample, bool]],
    groups: Sequence[str] | None = None,
    folds: int = 10,
    seed: int = 0,
    epochs: int = 1,
) -> Evaluation:
    """Train on all but one part, score that part, for each part. With ``groups`` (where
    each comment came from: a post, a site), the parts are the groups, so every score is of
    a comment from a source the model never saw; otherwise ``folds`` random parts. Each
    model learns its part's complement in time order, one decision at a time (``epochs``
    passes: 1 is moderation alone, ``RETRAIN_EPOCHS`` what a retrain does)."""
    if groups is not None:
        names = sorted(set(groups))
        parts = [[i for i, g in enumerate(groups) if g == name] for name in names]
    else:
        order = list(range(len(labelled)))
        random.Random(seed).shuffle(order)
        parts = [sorted(order[k::folds]) for k in range(folds)]
    result = Evaluation()
    for part in parts:
        held = set(part)
        training = [labelled[i] for i in range(len(labelled)) if i not in held]
        weights = train(model, training, epochs=epochs, seed=seed)
        for i in part:
            sample, is_spam = labelled[i]
            result.scores.append(model.score(weights, features(sample)).probability)
            result.labels.append(is_spam)
    return result
