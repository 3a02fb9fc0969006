"""The spam filter: the pure learner (blog.spam), its model in the database, what the
moderators' decisions teach it, and what it does to a new comment."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from blog import spam
from blog.extensions import db
from blog.models import Comment, SpamModel, SpamWeight
from blog.moderation import CommentStatus
from tests.comment_helpers import (
    add_comment,
    comment_id_from,
    get_comment,
    post_comment,
    set_discussion,
)
from tests.conftest import create_post, login

SPAMMY = [
    "Check out my channel and subscribe!!! http://cheap-pills.test/buy",
    "BEST PRICES on watches visit www.replica-deals.test now",
    "subscribe to my channel for free gift cards http://giftz.test",
    "Earn $5000 a week from home, click http://money-now.test",
    "Cheap viagra online http://cheap-pills.test/v without prescription",
    "Follow me and check out my new video, please subscribe http://bit.ly/xyz",
]
HAMMY = [
    "Thank you for the recipe, I baked it on Sunday and it worked.",
    "I disagree with the second point; the evidence in the paper is thin.",
    "Lovely photographs of the harbour. Which lens did you use?",
    "My grandmother used to make this every winter, it brings back memories.",
    "Could you explain the part about the starter again? I got lost.",
    "Great write-up, the diagrams made it clear. Looking forward to part two.",
]


def _samples(texts: list[str], spammy: bool) -> list[tuple[spam.Sample, bool]]:
    names = ["Cheap Deals", "WinBig2024", "promo"] if spammy else ["Ann", "Ben Okafor", "Chloé"]
    return [
        (spam.Sample(content=t, author=names[i % len(names)]), spammy) for i, t in enumerate(texts)
    ]


LABELLED = _samples(SPAMMY, True) + _samples(HAMMY, False)


@pytest.mark.parametrize("kind", sorted(spam.MODELS))
def test_learning_moves_the_score(kind):
    model = spam.MODELS[kind]()
    probe = spam.Sample("subscribe to my channel http://cheap-pills.test", author="promo")
    good = spam.Sample("Thank you, the recipe worked on Sunday.", author="Ann")
    weights: dict = {}
    before = model.score(weights, spam.features(probe)).probability
    spam.train(model, random.Random(1).sample(LABELLED, len(LABELLED)), weights)
    after = model.score(weights, spam.features(probe)).probability
    assert before == pytest.approx(0.5, abs=0.01)  # knowing nothing, it says nothing
    assert after > 0.8
    assert model.score(weights, spam.features(good)).probability < 0.3


@pytest.mark.parametrize("kind", sorted(spam.MODELS))
def test_a_word_never_seen_weighs_nothing(kind):
    model = spam.MODELS[kind]()
    weights = spam.train(model, LABELLED)
    sample = spam.Sample("Could you explain the starter?", author="Ann")
    padded = spam.Sample("Could you explain the starter? zqxwvj", author="Ann")
    added = set(spam.features(padded)) - set(spam.features(sample))
    assert added == {"w:zqxwvj", "b:starter zqxwvj"}
    score = model.score(weights, spam.features(sample))
    padded_score = model.score(weights, spam.features(padded))
    assert padded_score.probability == pytest.approx(score.probability, abs=1e-12)
    assert all(w == 0 for name, w in (*padded_score.spammy, *padded_score.hammy) if name in added)


def test_features_say_what_they_are():
    names = spam.features(
        spam.Sample(
            'Great <a href="https://shop.example-pharma.test/x">deal</a> and '
            "http://www.example-pharma.test/y — ПОКУПАЙ!!!",
            author="Pills4U",
            email="x@mail.example",
            url="https://promo.example.co.uk/a",
            seconds_to_fill=1.2,
        )
    )
    for expected in (
        "w:great",
        "b:great deal",
        "link:example-pharma.test",
        "links:2",
        "name:pills4u",
        "name:has digits",
        "email:mail.example",
        "site:example.co.uk",
        "fill:<3 s",
        "script:latin",
        "script:cyrillic",
        "script:mixed",
        "shape:!!!",
        "author:never approved",
    ):
        assert expected in names


def test_the_model_is_bounded_by_its_buckets():
    seen = {spam.bucket(f"w:word{n}") for n in range(20_000)}
    assert all(0 <= b < spam.BUCKETS for b in seen)
    assert spam.bucket("w:word1") == spam.bucket("w:word1")  # stable, not Python's hash()


def test_a_65000_character_comment_is_bounded_work():
    names = spam.features(spam.Sample("word " * 13_000))
    assert len([n for n in names if n.startswith(("w:", "b:"))]) <= 2 * 400


def test_the_reason_reads_as_a_moderator_needs_it():
    score = spam.Score(
        0.97,
        spammy=(
            ("w:subscribe", 2.1),
            ("b:check out", 1.4),
            ("link:example-pharma.test", 1.2),
            ("links:2", 0.5),
        ),
        links="2",
    )
    assert score.explain() == (
        "spam score 0.97: 'subscribe', 'check out', 2 links to example-pharma.test"
    )
    calm = spam.Score(0.04, hammy=(("author:approved before", -2.0), ("site:(none)", -0.3)))
    assert calm.explain() == "spam score 0.04: author approved before, no website"


def test_roc_auc_from_ranks():
    assert spam.roc_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert spam.roc_auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 0.0
    assert spam.roc_auc([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    rates = spam.threshold_rates([0.95, 0.6, 0.4, 0.96], [True, True, False, False], 0.9)
    assert (rates.caught, rates.false_positive, rates.precision) == (0.5, 0.5, 0.5)


# --- the model in the database ----------------------------------------------------------


def test_what_is_learned_is_kept_and_read_back(app):
    """Learning through the database gives the very model learning in memory gives."""
    from blog.services import spam as spam_service

    with app.app_context():
        for sample, is_spam in LABELLED:
            spam_service.learn(sample, is_spam)
        db.session.commit()
        model = spam.LogisticRegression()
        in_memory = spam.train(model, LABELLED)
        stored = {
            row.bucket: (row.first, row.second) for row in db.session.scalars(select(SpamWeight))
        }
        assert stored.keys() == in_memory.keys()
        for bucket, (first, second) in in_memory.items():
            assert stored[bucket] == pytest.approx((first, second), rel=1e-9, abs=1e-12)
        probe = spam.Sample("subscribe to my channel http://giftz.test", author="promo")
        assert spam_service.score(probe).probability == pytest.approx(
            model.score(in_memory, spam.features(probe)).probability
        )
        state = spam_service.state()
        assert (state.kind, state.spam_examples, state.ham_examples) == ("logistic", 6, 6)


# --- what moderators teach it, and what it does --------------------------------------------


@pytest.fixture
def post_path(app, admin):
    return create_post(app, admin, title="Teaching the filter")


def _queue_action(client, action: str, comment_id: int):
    return client.post("/admin/comments/action", data={"action": action, "ids": str(comment_id)})


def test_moderators_decisions_teach_it(app, client, post_path):
    post_id, path = post_path
    spam_id = add_comment(app, post_id, SPAMMY[0], CommentStatus.PENDING, author="promo")
    ham_id = add_comment(app, post_id, HAMMY[0], CommentStatus.PENDING, author="Ann")
    login(client, "admin")
    assert _queue_action(client, "spam", spam_id).status_code == 303
    assert _queue_action(client, "approve", ham_id).status_code == 303
    with app.app_context():
        model = db.session.get(SpamModel, 1)
        assert (model.spam_examples, model.ham_examples) == (1, 1)
        assert db.session.scalar(select(func.count()).select_from(SpamWeight)) > 10
    assert get_comment(app, spam_id).spam_label == "spam"
    assert get_comment(app, ham_id).spam_label == "ham"
    # Not spam after all: taught again, once; approving it again teaches nothing more.
    assert _queue_action(client, "unspam", spam_id).status_code == 303
    assert _queue_action(client, "approve", spam_id).status_code == 303
    with app.app_context():
        model = db.session.get(SpamModel, 1)
        assert (model.spam_examples, model.ham_examples) == (1, 2)
    # A trash or an unapproval says nothing about spam.
    assert _queue_action(client, "trash", ham_id).status_code == 303
    with app.app_context():
        assert db.session.get(SpamModel, 1).ham_examples == 2


def _teach(app, n: int = 60) -> None:
    """n spam and n good decisions, as moderators would make them."""
    from blog.services import spam as spam_service

    rng = random.Random(7)
    with app.app_context():
        for k in range(n):
            spam_text = rng.choice(SPAMMY) + f" offer {k}"
            ham_text = rng.choice(HAMMY) + f" (note {k})"
            spam_service.learn(spam.Sample(spam_text, author="promo"), True)
            spam_service.learn(spam.Sample(ham_text, author="Ann"), False)
        db.session.commit()


def test_a_comment_is_scored_and_the_score_is_a_reason(app, post_path):
    post_id, path = post_path
    _teach(app, 3)
    comment_id = comment_id_from(
        post_comment(app.test_client(), path, comment=SPAMMY[1], author="promo")
    )
    comment = get_comment(app, comment_id)
    assert comment.spam_score is not None and comment.spam_score > 0.5
    note = next(r for r in comment.reasons if r.startswith("spam score"))
    assert "(not acted on: the filter acts once it has learned from 50 spam and 50 good" in note
    assert comment.status == CommentStatus.PENDING  # held as a first comment, not as spam


def test_a_trained_filter_sends_spam_to_spam_and_holds_the_doubtful(app, post_path):
    post_id, path = post_path
    _teach(app, 60)
    reader = app.test_client()
    spam_id = comment_id_from(
        post_comment(reader, path, comment=SPAMMY[4] + " today", author="promo", email="p@x.test")
    )
    stored = get_comment(app, spam_id)
    assert stored.status == CommentStatus.SPAM
    assert any(r.startswith("spam score") and "(spam at 90%)" in r for r in stored.reasons)
    set_discussion(app, spam_percent=100, spam_hold_percent=50)
    held_id = comment_id_from(
        post_comment(reader, path, comment=SPAMMY[2] + " please", author="promo", email="q@x.test")
    )
    held = get_comment(app, held_id)
    assert held.status == CommentStatus.PENDING
    assert any("(held at 50%)" in r for r in held.reasons)


def test_the_api_gives_moderators_the_score_and_the_reasons(app, post_path, runner):
    post_id, path = post_path
    before = comment_id_from(post_comment(app.test_client(), path, email="one@example.org"))
    _teach(app, 3)
    after = comment_id_from(
        post_comment(app.test_client(), path, email="two@example.org", comment=SPAMMY[0])
    )
    token = runner.invoke(args=["token", "create", "admin"]).output.strip()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    items = {
        item["id"]: item
        for item in client.get(
            f"/api/v1/comments?post={post_id}&status=pending", headers=headers
        ).get_json()["items"]
    }
    assert items[before]["spam_score"] is None
    assert 0 <= items[after]["spam_score"] <= 1
    assert any(r.startswith("spam score") for r in items[after]["reasons"])
    public = client.get(f"/api/v1/comments/{after}").get_json()
    assert "spam_score" not in public and "reasons" not in public


def test_the_queue_sorts_and_filters_by_score(app, post_path, client):
    post_id, _ = post_path
    ids = {}
    with app.app_context():
        for score in (0.2, 0.95, 0.6, None):
            comment_id = add_comment(app, post_id, f"score {score}", CommentStatus.PENDING)
            comment = db.session.get(Comment, comment_id)
            comment.spam_score = score
            db.session.commit()
            ids[score] = comment_id
    login(client, "admin")
    body = client.get("/admin/comments?status=pending&order=score").get_data(as_text=True)
    order = [body.index(f'id="comment-{ids[s]}"') for s in (0.95, 0.6, 0.2, None)]
    assert order == sorted(order)
    assert "spam score 95%" in body
    filtered = client.get("/admin/comments?status=pending&min_score=50").get_data(as_text=True)
    assert f'id="comment-{ids[0.95]}"' in filtered and f'id="comment-{ids[0.6]}"' in filtered
    assert (
        f'id="comment-{ids[0.2]}"' not in filtered and f'id="comment-{ids[None]}"' not in filtered
    )


def test_retrain_learns_every_decision_again(app, runner, post_path):
    post_id, _ = post_path
    login_client = app.test_client()
    login(login_client, "admin")
    for text in SPAMMY[:3]:
        _queue_action(login_client, "spam", add_comment(app, post_id, text, CommentStatus.PENDING))
    for text in HAMMY[:4]:
        _queue_action(
            login_client, "approve", add_comment(app, post_id, text, CommentStatus.PENDING)
        )
    add_comment(app, post_id, "approved by the rules, decided by nobody")
    result = runner.invoke(args=["spam", "retrain"])
    assert result.exit_code == 0, result.output
    assert "Learned (logistic) from 3 spam and 4 good comments" in result.output
    result = runner.invoke(args=["spam", "retrain", "--model", "bayes"])
    assert "Learned (bayes) from 3 spam and 4 good comments" in result.output
    with app.app_context():
        assert db.session.get(SpamModel, 1).kind == "bayes"


def test_evaluate_reports_the_figures(app, runner, post_path):
    _teach(app, 0)
    post_id, _ = post_path
    client = app.test_client()
    login(client, "admin")
    for k in range(12):
        _queue_action(
            client,
            "spam",
            add_comment(app, post_id, SPAMMY[k % 6] + f" {k}", CommentStatus.PENDING),
        )
        _queue_action(
            client,
            "approve",
            add_comment(app, post_id, HAMMY[k % 6] + f" {k}", CommentStatus.PENDING),
        )
    result = runner.invoke(args=["spam", "evaluate", "--folds", "4"])
    assert result.exit_code == 0, result.output
    assert "logistic, retrained: 24 comments (12 spam), 4 folds; ROC AUC" in result.output
    assert "at the spam score 90%: precision" in result.output


def test_an_import_teaches_the_filter(app, runner):
    from tests.wxr_fixtures import WORDPRESS_COM

    result = runner.invoke(args=["wxr", "import", str(WORDPRESS_COM)])
    assert "the spam filter learned from 1 spam and 4 approved comments" in result.output
    with app.app_context():
        model = db.session.get(SpamModel, 1)
        assert (model.spam_examples, model.ham_examples) == (1, 4)
