"""The comment form's values: what was sent, field by field, and what was wrong with it.

Every post page (a reader's page rendered, a comment POST) builds this form, so it is kept
plain: binding WTForms' nine fields cost a comment POST a tenth of its time, for a form
whose every check lives in the comment service anyway (so that the API and the importer
apply the very same ones). It reads like a WTForms form where the template and the views
touch it (``form.comment.data``, ``form.comment.errors``, ``form["author"]``,
``form.remember.label.text``). Field names are WordPress's (INTERFACE.md).

``csrf_token`` is checked by the view: for a reader without a session it carries the post's
signed stamp (``blog.comments.tokens``), for a logged-in user the session-bound token, with
the stamp in ``rendered`` for the time trap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Text fields: what was sent, as it was sent (checked and trimmed by the service).
TEXT_FIELDS = ("author", "email", "url", "comment", "csrf_token", "rendered")
LABELS = {
    "author": "Name",
    "email": "Email",
    "url": "Website",
    "comment": "Comment",
    "comment_parent": "Reply to",
    "remember": "Save my name, email, and website in this browser for the next time I comment.",
    "notify": "Email me when my comment is approved.",
    "notify_replies": "Email me when someone replies to my comment (you will be asked to "
    "confirm your email first).",
    "csrf_token": "",
    "rendered": "",
}
#: A ticked box sends its value; these mean unticked (as WTForms' BooleanField reads them).
UNTICKED = ("", "false")
NOT_AN_ID = "Not a valid integer value."


@dataclass(frozen=True)
class Label:
    text: str


@dataclass
class Field:
    name: str
    data: Any = None
    errors: list[str] = field(default_factory=list)

    @property
    def label(self) -> Label:
        return Label(LABELS[self.name])


class CommentForm:
    """The fields of ``<form id="commentform">``, from a POST's form data or from values."""

    def __init__(
        self, formdata: Mapping[str, str] | None = None, data: Mapping[str, Any] | None = None
    ) -> None:
        values = dict(data or {})
        self._fields: dict[str, Field] = {}
        for name in TEXT_FIELDS:
            sent = formdata.get(name) if formdata is not None else None
            self._fields[name] = Field(name, sent if sent is not None else values.get(name))
        for name in ("remember", "notify", "notify_replies"):
            sent = formdata.get(name) if formdata is not None else None
            ticked = sent not in UNTICKED if sent is not None else bool(values.get(name))
            self._fields[name] = Field(name, ticked)
        self._parent_sent = formdata.get("comment_parent") if formdata is not None else None
        parent = self._fields["comment_parent"] = Field("comment_parent", 0)
        if self._parent_sent is not None and self._parent_sent.strip():
            try:
                parent.data = int(self._parent_sent)
            except ValueError:
                parent.data = None
                parent.errors.append(NOT_AN_ID)
        elif self._parent_sent is not None:
            parent.data = None  # sent blank: no parent

    def __getitem__(self, name: str) -> Field:
        return self._fields[name]

    def __getattr__(self, name: str) -> Field:
        fields = self.__dict__.get("_fields", {})
        if name in fields:
            return fields[name]
        raise AttributeError(name)

    def validate(self) -> bool:
        """Only the reply's id is checked here; everything else is the service's to check."""
        return not self.errors

    @property
    def errors(self) -> dict[str, list[str]]:
        return {name: list(f.errors) for name, f in self._fields.items() if f.errors}
