"""Unit tests for blog.moderation: who may post, which status a comment gets, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from blog.moderation import (
    TRANSITIONS,
    AuthorHistory,
    CommentCandidate,
    CommentStatus,
    Decision,
    DiscussionSettings,
    Limits,
    PostContext,
    Refusal,
    SpamVerdict,
    can_transition,
    check_allowed,
    comments_closed_reason,
    decide,
    match_words,
    parse_key_list,
)

PUBLISHED = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)

CANDIDATE = CommentCandidate(
    content="Nice post, thanks.",
    author="Ann",
    email="ann@example.org",
    url="",
    ip="203.0.113.5",
    user_agent="Mozilla/5.0",
    link_count=0,
)
# A returning commenter, known by more than the email (the same name from the same
# network as an approved comment), so that with default settings nothing holds the comment.
NAME_AND_NETWORK = "same email, name and network as an approved comment"
HISTORY = AuthorHistory(approved_count=1, trust=NAME_AND_NETWORK)
POST = PostContext(comments_open=True, published_at=PUBLISHED, is_published=True, now=NOW)
SETTINGS = DiscussionSettings()
S = CommentStatus


# --- statuses ----------------------------------------------------------------------------


@pytest.mark.parametrize("src", list(CommentStatus))
@pytest.mark.parametrize("dst", list(CommentStatus))
def test_every_status_moves_to_every_other(src: CommentStatus, dst: CommentStatus) -> None:
    assert can_transition(src, dst) is (src is not dst)
    assert (dst in TRANSITIONS[src]) is (src is not dst)


def test_transitions_cover_every_status() -> None:
    assert set(TRANSITIONS) == set(CommentStatus)


@pytest.mark.parametrize(
    ("status", "value"),
    [(S.PENDING, "pending"), (S.APPROVED, "approved"), (S.SPAM, "spam"), (S.TRASH, "trash")],
)
def test_status_values_are_the_stored_strings(status: CommentStatus, value: str) -> None:
    assert status == value
    assert CommentStatus(value) is status


# --- decide: each rule alone -------------------------------------------------------------


@pytest.mark.parametrize(
    ("candidate", "history", "settings", "status", "reasons"),
    [
        pytest.param(
            CANDIDATE,
            HISTORY,
            SETTINGS,
            S.APPROVED,
            (f"author has 1 approved comment ({NAME_AND_NETWORK})",),
            id="returning author",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(approved_count=3, trust="email confirmed"),
            SETTINGS,
            S.APPROVED,
            ("author has 3 approved comments (email confirmed)",),
            id="returning author plural",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(),
            replace(SETTINGS, comment_previously_approved=False),
            S.APPROVED,
            ("no rule held it",),
            id="previously approved off",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(),
            SETTINGS,
            S.PENDING,
            ("first comment from this email",),
            id="first comment",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(is_logged_in=True),
            SETTINGS,
            S.PENDING,
            ("first comment from this account",),
            id="first comment logged in",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(pending_count=2),
            SETTINGS,
            S.PENDING,
            ("no approved comment from this email yet (2 awaiting moderation)",),
            id="earlier comments pending",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(pending_count=1, spam_count=4),
            SETTINGS,
            S.PENDING,
            ("no approved comment from this email yet (1 awaiting moderation, 4 marked as spam)",),
            id="earlier comments pending and spam",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(spam_count=1),
            SETTINGS,
            S.PENDING,
            ("no approved comment from this email yet (1 marked as spam)",),
            id="earlier comment spam",
        ),
        pytest.param(
            CANDIDATE,
            HISTORY,
            replace(SETTINGS, comment_moderation=True),
            S.PENDING,
            ("every comment must be approved manually (setting)",),
            id="manual moderation",
        ),
        pytest.param(
            replace(CANDIDATE, link_count=3),
            HISTORY,
            SETTINGS,
            S.PENDING,
            ("3 links (hold at 2)",),
            id="too many links",
        ),
        pytest.param(
            replace(CANDIDATE, url="https://casino.example"),
            HISTORY,
            replace(SETTINGS, moderation_keys=("casino",)),
            S.PENDING,
            ("matched moderation word 'casino' in the website field",),
            id="moderation word",
        ),
        pytest.param(
            replace(CANDIDATE, content="cheap viagra"),
            HISTORY,
            replace(SETTINGS, disallowed_keys=("viagra",)),
            S.TRASH,
            ("matched disallowed word 'viagra' in the comment field",),
            id="disallowed word",
        ),
        pytest.param(
            replace(CANDIDATE, seconds_to_fill=1.2),
            HISTORY,
            SETTINGS,
            S.SPAM,
            ("form sent 1.2 s after the page loaded (less than 3 s: likely a bot)",),
            id="time trap",
        ),
    ],
)
def test_decide_single_rule(
    candidate: CommentCandidate,
    history: AuthorHistory,
    settings: DiscussionSettings,
    status: CommentStatus,
    reasons: tuple[str, ...],
) -> None:
    assert decide(candidate, history, POST, settings) == Decision(status, reasons)


# --- decide: combinations ----------------------------------------------------------------

EVERYTHING = replace(
    CANDIDATE,
    content="Visit my casino for viagra",
    link_count=4,
    seconds_to_fill=0.5,
)
STRICT = replace(
    SETTINGS,
    comment_moderation=True,
    moderation_keys=("casino",),
    disallowed_keys=("viagra",),
)


def test_every_rule_at_once_lists_all_reasons_most_severe_first() -> None:
    decision = decide(EVERYTHING, AuthorHistory(spam_count=2), POST, STRICT)
    assert decision.status is S.TRASH
    assert decision.reasons == (
        "matched disallowed word 'viagra' in the comment field",
        "form sent 0.5 s after the page loaded (less than 3 s: likely a bot)",
        "every comment must be approved manually (setting)",
        "4 links (hold at 2)",
        "matched moderation word 'casino' in the comment field",
        "no approved comment from this email yet (2 marked as spam)",
    )


TIME_TRAP = "form sent 0.1 s after the page loaded (less than 3 s: likely a bot)"


@pytest.mark.parametrize(
    ("candidate", "settings", "status", "reasons"),
    [
        pytest.param(
            replace(CANDIDATE, seconds_to_fill=0.1, link_count=5),
            SETTINGS,
            S.SPAM,
            (TIME_TRAP, "5 links (hold at 2)"),
            id="spam beats pending",
        ),
        pytest.param(
            replace(CANDIDATE, content="viagra", seconds_to_fill=0.1),
            replace(SETTINGS, disallowed_keys=("viagra",)),
            S.TRASH,
            ("matched disallowed word 'viagra' in the comment field", TIME_TRAP),
            id="trash beats spam",
        ),
        pytest.param(
            replace(CANDIDATE, content="casino", link_count=5),
            replace(SETTINGS, moderation_keys=("casino",), comment_moderation=True),
            S.PENDING,
            (
                "every comment must be approved manually (setting)",
                "5 links (hold at 2)",
                "matched moderation word 'casino' in the comment field",
            ),
            id="pending reasons keep rule order",
        ),
        pytest.param(
            replace(CANDIDATE, content="viagra", link_count=2),
            replace(SETTINGS, disallowed_keys=("viagra",)),
            S.TRASH,
            ("matched disallowed word 'viagra' in the comment field", "2 links (hold at 2)"),
            id="trash listed before a later pending rule",
        ),
    ],
)
def test_most_severe_status_wins(
    candidate: CommentCandidate,
    settings: DiscussionSettings,
    status: CommentStatus,
    reasons: tuple[str, ...],
) -> None:
    assert decide(candidate, HISTORY, POST, settings) == Decision(status, reasons)


@pytest.mark.parametrize(
    "candidate",
    [CANDIDATE, EVERYTHING],
    ids=["plain", "matches every rule"],
)
def test_moderator_bypasses_every_rule(candidate: CommentCandidate) -> None:
    history = AuthorHistory(is_logged_in=True, can_moderate=True)
    assert decide(candidate, history, POST, STRICT) == Decision(
        S.APPROVED, ("posted by a moderator of this post",)
    )


def test_can_moderate_without_login_is_no_bypass() -> None:
    decision = decide(EVERYTHING, AuthorHistory(can_moderate=True), POST, STRICT)
    assert decision.status is S.TRASH


# --- decide: word matching ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "label"),
    [
        ("content", "I won at the Casino today", "comment"),
        ("author", "CasinoKing", "name"),
        ("email", "king@casino.example", "email"),
        ("url", "https://best-CASINO.example/", "website"),
        ("ip", "198.51.100.77", "IP address"),
        ("user_agent", "CasinoBot/1.0", "browser"),
    ],
)
@pytest.mark.parametrize(
    ("setting", "status", "kind"),
    [("moderation_keys", S.PENDING, "moderation"), ("disallowed_keys", S.TRASH, "disallowed")],
)
def test_words_match_in_every_field(
    field: str, value: str, label: str, setting: str, status: CommentStatus, kind: str
) -> None:
    word = "100.77" if field == "ip" else "casino"
    candidate = replace(CANDIDATE, **{field: value})
    decision = decide(candidate, HISTORY, POST, replace(SETTINGS, **{setting: (word,)}))
    assert decision == Decision(status, (f"matched {kind} word '{word}' in the {label} field",))


@pytest.mark.parametrize(
    ("words", "fields", "expected"),
    [
        pytest.param(["casino"], {"comment": "CASINO night"}, [("casino", "comment")], id="upper"),
        pytest.param(["CaSiNo"], {"comment": "casino"}, [("CaSiNo", "comment")], id="mixed key"),
        pytest.param(["straße"], {"comment": "STRASSE"}, [("straße", "comment")], id="casefold"),
        pytest.param(["cas"], {"comment": "Casino"}, [("cas", "comment")], id="substring"),
        pytest.param(["poker"], {"comment": "casino"}, [], id="no match"),
        pytest.param(
            ["casino", "poker"],
            {"comment": "poker and casino", "name": "casino"},
            [("casino", "comment"), ("casino", "name"), ("poker", "comment")],
            id="word order then field order",
        ),
        pytest.param(["", "  ", "\t"], {"comment": "anything"}, [], id="blank words skipped"),
        pytest.param([" casino "], {"comment": "casino"}, [("casino", "comment")], id="stripped"),
        pytest.param(["casino", "CASINO"], {"c": "casino"}, [("casino", "c")], id="deduped"),
        pytest.param([], {"comment": "casino"}, [], id="no words"),
    ],
)
def test_match_words(
    words: list[str], fields: dict[str, str], expected: list[tuple[str, str]]
) -> None:
    assert match_words(words, fields) == expected


def test_empty_lines_in_key_lists_hold_nothing() -> None:
    settings = DiscussionSettings.from_mapping(
        {"moderation_keys": "\n\n   \n", "disallowed_keys": "\r\n \r\n"}
    )
    assert decide(CANDIDATE, HISTORY, POST, settings).status is S.APPROVED


def test_several_matches_give_several_reasons() -> None:
    candidate = replace(CANDIDATE, content="casino", author="Casino Carl")
    settings = replace(SETTINGS, moderation_keys=("casino", "carl"))
    assert decide(candidate, HISTORY, POST, settings).reasons == (
        "matched moderation word 'casino' in the comment field",
        "matched moderation word 'casino' in the name field",
        "matched moderation word 'carl' in the name field",
    )


# --- decide: links and time trap ---------------------------------------------------------


@pytest.mark.parametrize(
    ("max_links", "link_count", "held"),
    [
        (2, 1, False),
        (2, 2, True),
        (2, 3, True),
        (5, 4, False),
        (5, 5, True),
        (5, 6, True),
        (1, 0, False),
        (1, 1, True),
        (0, 0, False),
        (0, 50, False),
    ],
)
def test_link_limit(max_links: int, link_count: int, held: bool) -> None:
    settings = replace(SETTINGS, comment_max_links=max_links)
    decision = decide(replace(CANDIDATE, link_count=link_count), HISTORY, POST, settings)
    assert decision.status is (S.PENDING if held else S.APPROVED)


@pytest.mark.parametrize(
    ("seconds", "min_fill", "spam"),
    [
        (None, 3, False),
        (0.0, 3, True),
        (2.99, 3, True),
        (3.0, 3, False),
        (120.0, 3, False),
        (4.0, 5, True),
        (0.0, 0, False),
    ],
)
def test_time_trap(seconds: float | None, min_fill: int, spam: bool) -> None:
    candidate = replace(CANDIDATE, seconds_to_fill=seconds)
    decision = decide(candidate, HISTORY, POST, SETTINGS, Limits(min_fill_seconds=min_fill))
    assert decision.status is (S.SPAM if spam else S.APPROVED)


def test_decision_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        Decision(S.APPROVED, ())


# --- closing -----------------------------------------------------------------------------

OPENED = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
CLOSING = replace(SETTINGS, close_comments_for_old_posts=True, close_comments_days_old=14)


@pytest.mark.parametrize(
    ("comments_open", "published_at", "now", "settings", "expected"),
    [
        pytest.param(True, OPENED, OPENED, SETTINGS, None, id="open"),
        pytest.param(False, OPENED, OPENED, SETTINGS, "Comments are closed.", id="closed"),
        pytest.param(
            True,
            OPENED,
            OPENED + timedelta(days=14, seconds=-1),
            CLOSING,
            None,
            id="one second before the boundary",
        ),
        pytest.param(
            True,
            OPENED,
            OPENED + timedelta(days=14),
            CLOSING,
            "Comments on this post closed 14 days after publishing.",
            id="at the boundary",
        ),
        pytest.param(
            True,
            OPENED,
            OPENED + timedelta(days=400),
            CLOSING,
            "Comments on this post closed 14 days after publishing.",
            id="long after",
        ),
        pytest.param(
            True,
            OPENED,
            OPENED + timedelta(days=1),
            replace(CLOSING, close_comments_days_old=1),
            "Comments on this post closed 1 day after publishing.",
            id="one day",
        ),
        pytest.param(
            True,
            OPENED,
            OPENED + timedelta(days=400),
            SETTINGS,
            None,
            id="closing by age off",
        ),
        pytest.param(True, None, OPENED, CLOSING, None, id="never published"),
        pytest.param(
            False,
            OPENED,
            OPENED + timedelta(days=400),
            CLOSING,
            "Comments are closed.",
            id="per-post closed wins",
        ),
        pytest.param(
            True,
            datetime(2024, 3, 1, 2, 0, tzinfo=UTC),
            datetime(2024, 3, 15, 3, 0, tzinfo=UTC),
            CLOSING,
            "Comments on this post closed 14 days after publishing.",
            id="aware times compare in UTC",
        ),
    ],
)
def test_comments_closed_reason(
    comments_open: bool,
    published_at: datetime | None,
    now: datetime,
    settings: DiscussionSettings,
    expected: str | None,
) -> None:
    post = PostContext(
        comments_open=comments_open, published_at=published_at, is_published=True, now=now
    )
    assert comments_closed_reason(post, settings) == expected


@pytest.mark.parametrize("field", ["published_at", "now"])
def test_naive_datetimes_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        replace(POST, **{field: datetime(2024, 1, 1)})  # naive on purpose


# --- check_allowed -----------------------------------------------------------------------

GUEST = AuthorHistory()
MEMBER = AuthorHistory(is_logged_in=True)
MODERATOR = AuthorHistory(is_logged_in=True, can_moderate=True)
NAMELESS = replace(CANDIDATE, author="  ", email="")
NAME_REFUSALS = [
    Refusal("author", "Please enter your name."),
    Refusal("email", "Please enter your email address."),
]
LOGIN = Refusal(None, "You must log in to post a comment.")
TOO_QUICK = "You are posting comments too quickly. Please wait {} and try again."
DUPLICATE = Refusal(None, "It looks as though you have already said that.", kind="duplicate")
BAD_PARENT = Refusal(None, "You can only reply to a published comment on this post.")


@pytest.mark.parametrize(
    ("candidate", "history", "post", "settings", "expected"),
    [
        pytest.param(CANDIDATE, GUEST, POST, SETTINGS, [], id="allowed"),
        pytest.param(
            CANDIDATE,
            GUEST,
            replace(POST, is_published=False),
            SETTINGS,
            [Refusal(None, "This post is not published, so it cannot take comments yet.")],
            id="not published",
        ),
        pytest.param(
            CANDIDATE,
            MODERATOR,
            replace(POST, comments_open=False),
            SETTINGS,
            [Refusal(None, "Comments are closed.")],
            id="closed even for moderators",
        ),
        pytest.param(
            NAMELESS,
            GUEST,
            replace(POST, now=PUBLISHED + timedelta(days=14)),
            CLOSING,
            [Refusal(None, "Comments on this post closed 14 days after publishing.")],
            id="closed by age says only that",
        ),
        pytest.param(
            CANDIDATE,
            GUEST,
            POST,
            replace(SETTINGS, comment_registration=True),
            [LOGIN],
            id="registration required",
        ),
        pytest.param(
            CANDIDATE,
            MEMBER,
            POST,
            replace(SETTINGS, comment_registration=True),
            [],
            id="registration required and logged in",
        ),
        pytest.param(NAMELESS, GUEST, POST, SETTINGS, NAME_REFUSALS, id="name and email needed"),
        pytest.param(
            replace(CANDIDATE, email=" "),
            GUEST,
            POST,
            SETTINGS,
            NAME_REFUSALS[1:],
            id="email needed",
        ),
        pytest.param(
            replace(CANDIDATE, author=""),
            GUEST,
            POST,
            SETTINGS,
            NAME_REFUSALS[:1],
            id="name needed",
        ),
        pytest.param(
            NAMELESS,
            GUEST,
            POST,
            replace(SETTINGS, require_name_email=False),
            [],
            id="name and email optional",
        ),
        pytest.param(NAMELESS, MEMBER, POST, SETTINGS, [], id="logged-in users exempt"),
        pytest.param(
            replace(CANDIDATE, content=" \n\t "),
            GUEST,
            POST,
            SETTINGS,
            [Refusal("content", "Please type your comment.")],
            id="empty comment",
        ),
        pytest.param(
            replace(NAMELESS, content=""),
            GUEST,
            POST,
            SETTINGS,
            [*NAME_REFUSALS, Refusal("content", "Please type your comment.")],
            id="all field problems at once",
        ),
        pytest.param(
            replace(CANDIDATE, parent_id=7),
            GUEST,
            replace(POST, parent_ok=False),
            SETTINGS,
            [BAD_PARENT],
            id="bad parent",
        ),
        pytest.param(
            replace(CANDIDATE, parent_id=7),
            GUEST,
            replace(POST, parent_depth=10),
            replace(SETTINGS, thread_comments_depth=2),
            [],
            id="too deep is allowed",
        ),
        pytest.param(
            CANDIDATE,
            AuthorHistory(has_identical_comment=True),
            POST,
            SETTINGS,
            [DUPLICATE],
            id="duplicate",
        ),
        pytest.param(
            CANDIDATE,
            replace(MODERATOR, has_identical_comment=True),
            POST,
            SETTINGS,
            [DUPLICATE],
            id="duplicate from a moderator",
        ),
    ],
)
def test_check_allowed(
    candidate: CommentCandidate,
    history: AuthorHistory,
    post: PostContext,
    settings: DiscussionSettings,
    expected: list[Refusal],
) -> None:
    assert check_allowed(candidate, history, post, settings) == expected


@pytest.mark.parametrize(
    ("since", "flood", "history", "wait"),
    [
        (None, 15, GUEST, None),
        (0.0, 15, GUEST, "15 seconds"),
        (5.5, 15, GUEST, "10 seconds"),
        (14.2, 15, GUEST, "1 second"),
        (15.0, 15, GUEST, None),
        (600.0, 15, GUEST, None),
        (1.0, 15, MEMBER, "14 seconds"),
        (1.0, 15, MODERATOR, None),
        (1.0, 0, GUEST, None),
    ],
)
def test_flood(since: float | None, flood: int, history: AuthorHistory, wait: str | None) -> None:
    history = replace(history, seconds_since_last_comment=since)
    refusals = check_allowed(CANDIDATE, history, POST, SETTINGS, Limits(flood_seconds=flood))
    if wait is None:
        assert refusals == []
    else:
        seconds = int(wait.split()[0])
        assert refusals == [
            Refusal(None, TOO_QUICK.format(wait), kind="flood", retry_after=seconds)
        ]


# --- settings ----------------------------------------------------------------------------


def test_defaults_are_wordpress_defaults() -> None:
    assert SETTINGS.to_mapping() == {
        "default_comment_status_open": "1",
        "comment_registration": "0",
        "require_name_email": "1",
        "close_comments_for_old_posts": "0",
        "close_comments_days_old": "14",
        "thread_comments": "1",
        "thread_comments_depth": "5",
        "page_comments": "0",
        "comments_per_page": "50",
        "default_comments_page": "newest",
        "comment_order": "asc",
        "comment_moderation": "0",
        "comment_previously_approved": "1",
        "comment_max_links": "2",
        "moderation_keys": "",
        "disallowed_keys": "",
        "show_avatars": "1",
        "avatar_source": "gravatar",
        "comments_notify": "1",
        "moderation_notify": "1",
        "spam_hold_percent": "25",
        "spam_percent": "90",
        "spam_min_decisions": "50",
    }
    assert SETTINGS.validate() == []


CUSTOM = DiscussionSettings(
    default_comment_status_open=False,
    comment_registration=True,
    require_name_email=False,
    close_comments_for_old_posts=True,
    close_comments_days_old=30,
    thread_comments=False,
    thread_comments_depth=10,
    page_comments=True,
    comments_per_page=20,
    default_comments_page="oldest",
    comment_order="desc",
    comment_moderation=True,
    comment_previously_approved=False,
    comment_max_links=0,
    moderation_keys=("casino", "free money"),
    disallowed_keys=("viagra", "198.51.100."),
    show_avatars=False,
    comments_notify=False,
    moderation_notify=False,
)


@pytest.mark.parametrize("settings", [SETTINGS, CUSTOM], ids=["defaults", "custom"])
def test_mapping_round_trip(settings: DiscussionSettings) -> None:
    mapping = settings.to_mapping()
    assert all(isinstance(value, str) for value in mapping.values())
    assert DiscussionSettings.from_mapping(mapping) == settings


def test_key_lists_are_joined_by_newlines() -> None:
    assert CUSTOM.to_mapping()["moderation_keys"] == "casino\nfree money"


@pytest.mark.parametrize(
    ("data", "field", "expected"),
    [
        ({"comment_moderation": "1"}, "comment_moderation", True),
        ({"comment_moderation": "0"}, "comment_moderation", False),
        ({"comment_moderation": "true"}, "comment_moderation", True),
        ({"comment_moderation": "False"}, "comment_moderation", False),
        ({"comment_moderation": "on"}, "comment_moderation", True),
        ({"comment_moderation": "off"}, "comment_moderation", False),
        ({"comment_moderation": " YES "}, "comment_moderation", True),
        ({"comment_moderation": ""}, "comment_moderation", False),
        ({"comment_moderation": True}, "comment_moderation", True),
        ({"comment_moderation": 1}, "comment_moderation", True),
        ({"comment_moderation": 0}, "comment_moderation", False),
        ({"comments_per_page": "20"}, "comments_per_page", 20),
        ({"comments_per_page": " 20 "}, "comments_per_page", 20),
        ({"comments_per_page": 7}, "comments_per_page", 7),
        ({"default_comments_page": " Oldest "}, "default_comments_page", "oldest"),
        ({"comment_order": "DESC"}, "comment_order", "desc"),
        ({"default_comment_status": "closed"}, "default_comment_status_open", False),
        ({"default_comment_status": "open"}, "default_comment_status_open", True),
        (
            {"moderation_keys": "casino\n\n  Poker  \nCASINO\r\npoker\n"},
            "moderation_keys",
            ("casino", "Poker"),
        ),
        ({"disallowed_keys": ["a", " ", "b", "A"]}, "disallowed_keys", ("a", "b")),
        ({"disallowed_keys": ""}, "disallowed_keys", ()),
        ({"blogname": "My blog", "comment_moderation": "1"}, "comment_moderation", True),
        ({}, "comment_max_links", 2),
    ],
)
def test_from_mapping_is_tolerant(data: dict[str, object], field: str, expected: object) -> None:
    assert getattr(DiscussionSettings.from_mapping(data), field) == expected


@pytest.mark.parametrize(
    "data",
    [
        {"comment_moderation": "maybe"},
        {"comment_moderation": 2},
        {"comments_per_page": "twenty"},
        {"comments_per_page": True},
        {"comments_per_page": "2.5"},
        {"moderation_keys": 5},
    ],
)
def test_from_mapping_refuses_unreadable_values(data: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(data))):
        DiscussionSettings.from_mapping(data)


def test_key_lists_given_directly_are_normalised() -> None:
    settings = DiscussionSettings(moderation_keys=("", " casino ", "Casino"))
    assert settings.moderation_keys == ("casino",)
    assert settings == replace(SETTINGS, moderation_keys=("casino",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("one", ("one",)),
        ("one\ntwo", ("one", "two")),
        (" one \r\n\r\n two words \n", ("one", "two words")),
        ("Spam\nspam\nSPAM", ("Spam",)),
    ],
)
def test_parse_key_list(text: str, expected: tuple[str, ...]) -> None:
    assert parse_key_list(text) == expected


@pytest.mark.parametrize(
    ("changes", "messages"),
    [
        ({}, []),
        ({"thread_comments_depth": 2}, []),
        ({"thread_comments_depth": 10}, []),
        (
            {"thread_comments_depth": 1},
            ["Thread depth must be between 2 and 10 levels (got 1)."],
        ),
        (
            {"thread_comments_depth": 11},
            ["Thread depth must be between 2 and 10 levels (got 11)."],
        ),
        ({"comments_per_page": 1}, []),
        ({"comments_per_page": 1000}, []),
        (
            {"comments_per_page": 0},
            ["Comments per page must be between 1 and 1000 comments (got 0)."],
        ),
        (
            {"comments_per_page": 1001},
            ["Comments per page must be between 1 and 1000 comments (got 1001)."],
        ),
        ({"close_comments_days_old": 36500}, []),
        (
            {"close_comments_days_old": 0},
            ["Closing comments after must be between 1 and 36500 days (got 0)."],
        ),
        ({"comment_max_links": 0}, []),
        ({"comment_max_links": 100}, []),
        (
            {"comment_max_links": -1},
            ["Links before holding must be between 0 and 100 links (got -1)."],
        ),
        (
            {"comment_max_links": 101},
            ["Links before holding must be between 0 and 100 links (got 101)."],
        ),
        (
            {"default_comments_page": "latest"},
            ['The default comments page must be "newest" or "oldest" (got \'latest\').'],
        ),
        (
            {"comment_order": "up"},
            ['Comment order must be "asc" or "desc" (got \'up\').'],
        ),
        (
            {"thread_comments_depth": 0, "comment_order": "x"},
            [
                "Thread depth must be between 2 and 10 levels (got 0).",
                'Comment order must be "asc" or "desc" (got \'x\').',
            ],
        ),
    ],
)
def test_validate(changes: dict[str, object], messages: list[str]) -> None:
    assert replace(SETTINGS, **changes).validate() == messages


@pytest.mark.parametrize(
    ("thread_comments", "depth", "expected"), [(True, 5, 5), (True, 10, 10), (False, 7, 1)]
)
def test_max_depth_for_the_tree(thread_comments: bool, depth: int, expected: int) -> None:
    settings = replace(SETTINGS, thread_comments=thread_comments, thread_comments_depth=depth)
    assert settings.max_depth == expected


def test_a_comment_sent_without_a_form_by_nobody_logged_in_waits() -> None:
    """The time trap has nothing to time for an API client: a guest's comment is held, even
    from an email with approved comments; an account's is judged as usual."""
    trusted = AuthorHistory(approved_count=3, trust=NAME_AND_NETWORK)
    blind = replace(CANDIDATE, sent_without_form=True)
    decision = decide(blind, trusted, POST, SETTINGS)
    assert decision.status == CommentStatus.PENDING
    assert decision.reasons == ("sent through the API without an account (no form to time)",)
    assert decide(CANDIDATE, trusted, POST, SETTINGS).status == CommentStatus.APPROVED
    member = replace(trusted, is_logged_in=True)
    assert decide(blind, member, POST, SETTINGS).status == CommentStatus.APPROVED


# --- who an author is: more than a typed email ---------------------------------------------


@pytest.mark.parametrize(
    "trust", ["logged in", "email confirmed", "same email, name and network as an approved comment"]
)
def test_a_known_author_is_known_by_a_signal_beyond_the_email(trust) -> None:
    decision = decide(CANDIDATE, AuthorHistory(approved_count=2, trust=trust), POST, SETTINGS)
    assert decision.status == S.APPROVED
    assert decision.reasons == (f"author has 2 approved comments ({trust})",)


def test_an_email_alone_does_not_make_an_author_known() -> None:
    """Anyone can type a regular's email: with no other signal the comment is held."""
    decision = decide(CANDIDATE, AuthorHistory(approved_count=5), POST, SETTINGS)
    assert decision.status == S.PENDING
    assert decision.reasons == (
        "5 approved comments under this email, but not with this name from this network, and "
        "the email is not confirmed (anyone can type an email)",
    )
    relaxed = replace(SETTINGS, comment_previously_approved=False)
    assert decide(CANDIDATE, AuthorHistory(approved_count=5), POST, relaxed).status == S.APPROVED


# --- the spam filter's score --------------------------------------------------------------


def _verdict(probability: float, spam: int = 60, ham: int = 60) -> SpamVerdict:
    return SpamVerdict(probability, f"spam score {probability:.2f}: 'casino'", spam, ham)


@pytest.mark.parametrize(
    ("probability", "status", "suffix"),
    [
        (0.97, S.SPAM, " (spam at 90%)"),
        (0.90, S.SPAM, " (spam at 90%)"),
        (0.89, S.PENDING, " (held at 25%)"),
        (0.25, S.PENDING, " (held at 25%)"),
    ],
)
def test_a_trained_filter_holds_or_spams_by_its_thresholds(probability, status, suffix) -> None:
    candidate = replace(CANDIDATE, spam=_verdict(probability))
    decision = decide(candidate, HISTORY, POST, SETTINGS)
    assert decision.status == status
    assert decision.reasons == (f"spam score {probability:.2f}: 'casino'{suffix}",)


def test_below_the_hold_score_the_filter_only_says_what_it_thinks() -> None:
    decision = decide(replace(CANDIDATE, spam=_verdict(0.24)), HISTORY, POST, SETTINGS)
    assert decision.status == S.APPROVED
    assert decision.reasons[-1] == "spam score 0.24: 'casino'"


def test_a_filter_that_has_not_learned_enough_never_moves_a_comment() -> None:
    candidate = replace(CANDIDATE, spam=_verdict(0.99, spam=49, ham=200))
    decision = decide(candidate, HISTORY, POST, SETTINGS)
    assert decision.status == S.APPROVED
    assert decision.reasons[-1] == (
        "spam score 0.99: 'casino' (not acted on: the filter acts once it has learned from 50 "
        "spam and 50 good comments; so far 49 and 200)"
    )
    eager = replace(SETTINGS, spam_min_decisions=0)
    assert decide(candidate, HISTORY, POST, eager).status == S.SPAM


def test_moderators_comments_are_not_scored() -> None:
    moderator = AuthorHistory(is_logged_in=True, can_moderate=True)
    decision = decide(replace(CANDIDATE, spam=_verdict(0.99)), moderator, POST, SETTINGS)
    assert decision.status == S.APPROVED


def test_spam_thresholds_are_checked() -> None:
    assert replace(SETTINGS, spam_percent=40, spam_hold_percent=60).validate() == [
        "The spam score for spam must not be below the score to hold (40% < 60%)."
    ]
    assert "Spam score to hold must be between 1 and 100 %" in " ".join(
        replace(SETTINGS, spam_hold_percent=0).validate()
    )
