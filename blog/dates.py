"""Dates as a reader reads them, in the site's language ("December 3, 2026", "3 décembre 2026").

A small table of languages kept here, not the machine's locales: which locales a server has
is not guaranteed, and ``strftime("%B")`` follows the process's locale, not the site's.
Languages are keyed by WordPress's ``WPLANG`` codes, where "" is English (United States).

Pure: no Flask, no database. Takes datetimes already in the site's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Language",
    "date_text",
    "datetime_text",
    "language",
    "month_year",
]


@dataclass(frozen=True)
class Language:
    """How one language writes a date. The formats take ``day``, ``month`` (its name),
    ``year`` and ``time`` ("14:05") as ``str.format`` fields."""

    name: str  # in the language itself, for the settings page
    html_lang: str  # the <html lang> value (BCP 47)
    months: tuple[str, ...]  # January first
    date: str
    datetime: str
    month_year: str


DEFAULT_LANGUAGE = ""

LANGUAGES: dict[str, Language] = {
    "": Language(
        "English",
        "en",
        (
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),  # fmt: skip
        "{month} {day}, {year}",
        "{month} {day}, {year} at {time}",
        "{month} {year}",
    ),
    "de_DE": Language(
        "Deutsch",
        "de",
        (
            "Januar",
            "Februar",
            "März",
            "April",
            "Mai",
            "Juni",
            "Juli",
            "August",
            "September",
            "Oktober",
            "November",
            "Dezember",
        ),  # fmt: skip
        "{day}. {month} {year}",
        "{day}. {month} {year} um {time}",
        "{month} {year}",
    ),
    "es_ES": Language(
        "Español",
        "es",
        (
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),  # fmt: skip
        "{day} de {month} de {year}",
        "{day} de {month} de {year} a las {time}",
        "{month} de {year}",
    ),
    "fr_FR": Language(
        "Français",
        "fr",
        (
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),  # fmt: skip
        "{day} {month} {year}",
        "{day} {month} {year} à {time}",
        "{month} {year}",
    ),
    "it_IT": Language(
        "Italiano",
        "it",
        (
            "gennaio",
            "febbraio",
            "marzo",
            "aprile",
            "maggio",
            "giugno",
            "luglio",
            "agosto",
            "settembre",
            "ottobre",
            "novembre",
            "dicembre",
        ),  # fmt: skip
        "{day} {month} {year}",
        "{day} {month} {year} alle {time}",
        "{month} {year}",
    ),
    "nl_NL": Language(
        "Nederlands",
        "nl",
        (
            "januari",
            "februari",
            "maart",
            "april",
            "mei",
            "juni",
            "juli",
            "augustus",
            "september",
            "oktober",
            "november",
            "december",
        ),  # fmt: skip
        "{day} {month} {year}",
        "{day} {month} {year} om {time}",
        "{month} {year}",
    ),
    "pt_BR": Language(
        "Português do Brasil",
        "pt-BR",
        (
            "janeiro",
            "fevereiro",
            "março",
            "abril",
            "maio",
            "junho",
            "julho",
            "agosto",
            "setembro",
            "outubro",
            "novembro",
            "dezembro",
        ),  # fmt: skip
        "{day} de {month} de {year}",
        "{day} de {month} de {year} às {time}",
        "{month} de {year}",
    ),
}


def language(code: str) -> Language:
    """The language for a ``WPLANG`` code; English for one not in the table."""
    return LANGUAGES.get(code, LANGUAGES[DEFAULT_LANGUAGE])


def month_year(year: int, month: int, code: str = DEFAULT_LANGUAGE) -> str:
    """ "December 2026", "décembre 2026": a month archive's name."""
    lang = language(code)
    return lang.month_year.format(month=lang.months[month - 1], year=year)


def date_text(when: datetime, code: str = DEFAULT_LANGUAGE) -> str:
    """ "December 3, 2026": a post's date."""
    lang = language(code)
    return lang.date.format(day=when.day, month=lang.months[when.month - 1], year=when.year)


def datetime_text(when: datetime, code: str = DEFAULT_LANGUAGE) -> str:
    """ "December 3, 2026 at 14:05": a comment's time."""
    lang = language(code)
    return lang.datetime.format(
        day=when.day,
        month=lang.months[when.month - 1],
        year=when.year,
        time=f"{when.hour:02d}:{when.minute:02d}",
    )
