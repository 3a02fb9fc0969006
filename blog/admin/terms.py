"""Tags and categories in the admin: the list with counts and the add form, each term's
edit page, and the merge and delete buttons (each with a confirmation page, no JavaScript
needed). The work is done by ``blog.services.terms``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from wtforms import SelectChoice

from blog.admin import bp
from blog.admin.forms import MergeForm, TermForm
from blog.auth.forms import EmptyForm
from blog.decorators import permission_required
from blog.models import Permission
from blog.services import ServiceError
from blog.services import terms as term_service

KINDS = "<any(tags, categories):kinds>"


def _kind(kinds: str) -> term_service.Kind:
    return "tag" if kinds == "tags" else "category"


def _term(kind: term_service.Kind, term_id: int) -> term_service.Term:
    try:
        return term_service.get(kind, term_id)
    except ServiceError:
        abort(404)


def _parent_choices(form: TermForm, term: term_service.Term | None) -> None:
    """The parent picker: none, or any category but the term itself and those below it
    (the service refuses a loop anyway, with a message, should one be sent)."""
    excluded: set[int] = set()
    if term is not None:
        excluded = {term.id} | term_service.descendant_ids(term)  # type: ignore[arg-type]
    form.parent.choices = [SelectChoice("", "None")] + [
        SelectChoice(str(category_id), path)
        for category_id, path in term_service.category_paths()
        if category_id not in excluded
    ]


def _input(kind: term_service.Kind, form: TermForm) -> term_service.TermInput:
    parent = form.parent.data or ""
    return term_service.TermInput(
        name=form.name.data or "",
        slug=form.slug.data or "",
        description=form.description.data or "",
        parent_id=int(parent)
        if kind == "category" and parent.isascii() and parent.isdigit()
        else None,
    )


def _problem(form: TermForm | MergeForm, exc: ServiceError) -> None:
    field = getattr(form, exc.field or "", None)
    if field is not None:
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "error")


@bp.route(f"/{KINDS}", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_TERMS)
def terms(kinds: str):
    kind = _kind(kinds)
    form = TermForm()
    if kind == "category":
        _parent_choices(form, None)
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            term = term_service.create(kind, _input(kind, form))
        except ServiceError as exc:
            _problem(form, exc)
            status = 400
        else:
            flash(f"{kind.capitalize()} “{term.name}” added.", "success")
            return redirect(url_for("admin.terms", kinds=kinds), 303)
    search = request.args.get("s", "")[: term_service.SEARCH_MAX]
    page = request.args.get("page", 1, type=int)
    listing = term_service.listing(kind, search, page)
    return render_template(
        "admin/terms.html", kind=kind, kinds=kinds, form=form, listing=listing, search=search
    ), status


@bp.route(f"/{KINDS}/<int:term_id>", methods=["GET", "POST"])
@permission_required(Permission.MANAGE_TERMS)
def term_edit(kinds: str, term_id: int):
    kind = _kind(kinds)
    term = _term(kind, term_id)
    status = 200
    if request.method == "GET":
        form = _filled(kind, term)
    else:
        form = TermForm()
        if kind == "category":
            _parent_choices(form, term)
        if not form.validate_on_submit():
            abort(400)
        try:
            term_service.update(kind, term, _input(kind, form))
        except ServiceError as exc:
            _problem(form, exc)
            status = 400
        else:
            flash(f"{kind.capitalize()} “{term.name}” saved.", "success")
            return redirect(url_for("admin.term_edit", kinds=kinds, term_id=term.id), 303)
    return render_template(
        "admin/term_edit.html",
        kind=kind,
        kinds=kinds,
        term=term,
        form=form,
        merge_form=MergeForm(formdata=None),
        count=term_service.post_count(kind, term),
    ), status


@bp.post(f"/{KINDS}/<int:term_id>/merge")
@permission_required(Permission.MANAGE_TERMS)
def term_merge(kinds: str, term_id: int):
    """First POST: the confirmation page (nothing changes); with ``confirm``: the merge."""
    kind = _kind(kinds)
    term = _term(kind, term_id)
    form = MergeForm()
    if not form.validate_on_submit():
        abort(400)
    target = term_service.by_slug_or_name(kind, form.target.data or "")
    problem = None
    if target is None:
        problem = f"No {kind} is called “{(form.target.data or '').strip()}”."
    elif target.id == term.id:
        problem = f"Pick another {kind} to merge “{term.name}” into."
    if problem is not None:
        form.target.errors = [problem]
        return render_template(
            "admin/term_edit.html",
            kind=kind,
            kinds=kinds,
            term=term,
            form=_filled(kind, term),
            merge_form=form,
            count=term_service.post_count(kind, term),
        ), 400
    assert target is not None
    if form.confirm.data != "yes":
        return _confirmation("merge", kind, kinds, term, target)
    name = term.name
    term_service.merge(kind, term, target)
    flash(f"“{name}” merged into “{target.name}”; its address now leads there.", "success")
    return redirect(url_for("admin.term_edit", kinds=kinds, term_id=target.id), 303)


def _confirmation(
    action: str,
    kind: term_service.Kind,
    kinds: str,
    term: term_service.Term,
    target: term_service.Term | None,
) -> str:
    """The page that asks before a merge or a delete (nothing has changed yet)."""
    return render_template(
        "admin/term_confirm.html",
        action=action,
        kind=kind,
        kinds=kinds,
        term=term,
        target=target,
        count=term_service.post_count(kind, term),
    )


def _filled(kind: term_service.Kind, term: term_service.Term) -> TermForm:
    form = TermForm(formdata=None)
    if kind == "category":
        _parent_choices(form, term)
    form.name.data, form.slug.data = term.name, term.slug
    form.description.data = term.description
    form.parent.data = str(getattr(term, "parent_id", None) or "")
    return form


@bp.post(f"/{KINDS}/<int:term_id>/delete")
@permission_required(Permission.MANAGE_TERMS)
def term_delete(kinds: str, term_id: int):
    """First POST: the confirmation page (nothing changes); with ``confirm``: the delete."""
    kind = _kind(kinds)
    term = _term(kind, term_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    if request.form.get("confirm") != "yes":
        return _confirmation("delete", kind, kinds, term, None)
    name = term.name
    term_service.remove(kind, term)
    flash(f"{kind.capitalize()} “{name}” deleted.", "success")
    return redirect(url_for("admin.terms", kinds=kinds), 303)
