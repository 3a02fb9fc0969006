"""``make bench``: the blog's rates against a reference measured in the same run.

Absolute rates on a shared machine are noise; ratios measured minutes apart on the same
machine are not. Every benchmark runs the blog under gunicorn with ``make run``'s settings
(2 sync workers) and a reference under the very same gunicorn settings: a minimal Flask app
(``bench/reference.py``) returning the same bytes, or inserting one row for a form POST;
for the data-scale benchmarks the reference is the blog itself on a small database. Rounds
alternate blog and reference; the ratio is the median of the rounds' ratios (each round
measures both a few seconds apart, so the machine's drift cancels out) and the rates shown
the median of each. The load comes from wrk (Debian's package), on loopback only, bounded
in time.

    .venv/bin/python bench/run.py [--seconds 5] [--rounds 3] [--comments 1000000]
                                  [--database postgresql+psycopg://...] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import contextlib
import http.cookiejar
import itertools
import json
import os
import platform
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
SECRET = "bench-only-not-secret"
PASSWORD = "bench password 1234"
WORKERS = 2
_RUNS = itertools.count()


# --- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def gunicorn(app: str, env: dict[str, str], cwd: Path = ROOT) -> Iterator[Server]:
    """``app`` served by gunicorn as ``make run`` does, without the access log."""
    port = free_port()
    # Its log goes to a file, not a pipe: a pipe nobody reads fills and stops the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), app],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"gunicorn {app} exited: {log.read().decode()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5):  # noqa: S310
                    break
            except urllib.error.HTTPError:
                break  # it answers (a 404 from the reference is an answer)
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn {app} did not start") from None
                time.sleep(0.2)
        server = Server(process, port)
        # Warm every worker up (imports, first connections, the page cache).
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def wrk(
    url: str,
    seconds: float,
    headers: tuple[str, ...] = (),
    script: Path | None = None,
    env: dict[str, str] | None = None,
    connections: int = 16,
) -> tuple[float, str]:
    """Requests per second wrk gets from ``url``, and its full report."""
    env = {**(env or {}), "BENCH_RUN": f"{os.getpid()}r{next(_RUNS)}"}
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run(  # noqa: S603
        [*command, url],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        env={**os.environ, **env},
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if match is None:
        raise RuntimeError(f"wrk said: {result.stdout}{result.stderr}")
    if script is None and "Non-2xx or 3xx responses" in result.stdout:
        raise RuntimeError(f"errors while measuring {url}:\n{result.stdout}")
    return float(match.group(1)), result.stdout


def warm(url: str, headers: tuple[str, ...] = ()) -> None:
    wrk(url, 1, headers, connections=4)


# --- the blog under test ------------------------------------------------------------------


@dataclass
class Site:
    """One blog database and the environment every process of it shares."""

    folder: Path
    database: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "BLOG_CONFIG": "default",
            "BLOG_INSTANCE_PATH": str(self.folder / "instance"),
            "FLASK_SECRET_KEY": SECRET,
            "FLASK_SQLALCHEMY_DATABASE_URI": self.database,
            # One machine posts everything: the per-address rules would refuse the load.
            "FLASK_COMMENT_FLOOD_SECONDS": "0",
            "FLASK_COMMENT_RATE_LIMIT": "100000000 per minute",
            "FLASK_LOGIN_RATE_LIMIT": "1000 per minute",
        }
        self.env.pop("FLASK_PAGE_CACHE", None)

    def _run(self, command: list[str]) -> str:
        result = subprocess.run(  # noqa: S603
            command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def flask(self, *args: str) -> str:
        return self._run([str(BIN / "flask"), "--app", "app", *args])

    def python(self, code: str) -> str:
        """Run ``code`` inside the site's app context."""
        script = "from app import app\nwith app.app_context():\n" + "\n".join(
            "    " + line for line in code.strip().splitlines()
        )
        return self._run([str(BIN / "python"), "-c", script])

    def serve(self, page_cache: bool, **env: str) -> contextlib.AbstractContextManager[Server]:
        return gunicorn("app:app", {**self.env, "FLASK_PAGE_CACHE": json.dumps(page_cache), **env})


def new_post(site: Site, title: str) -> str:
    return site.flask("post", "create", "--author", "bench", "--title", title, "--publish").strip()


def slug_of(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[1]


def fetch(url: str, opener: urllib.request.OpenerDirector | None = None) -> bytes:
    with (opener or urllib.request.build_opener()).open(url, timeout=30) as response:
        return response.read()


def admin_cookie(base: str) -> str:
    """A logged-in admin's session cookie, through the login form as a browser would."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = fetch(f"{base}/login", opener).decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    data = urllib.parse.urlencode(
        {"csrf_token": token.group(1), "username": "bench", "password": PASSWORD}
    ).encode()
    opener.open(f"{base}/login", data=data, timeout=30).read()
    session = next((c.value for c in jar if c.name == "session"), None)
    assert session, "the login did not give a session"
    return f"Cookie: session={session}"


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the comment form, as a browser would send them back."""
    form = page[page.index('id="commentform"') :]
    form = form[: form.index("</form>")]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)"[^>]*value="([^"]*)"', form))
    return {
        name: value for name, value in fields.items() if name in ("csrf_token", "comment_parent")
    }


def stored_ids(base: str, token: str, post_id: int) -> set[int]:
    """Every comment of the post, through the API (moderators see every status)."""
    ids: set[int] = set()
    page = 1
    while True:
        request = urllib.request.Request(  # noqa: S310
            f"{base}/api/v1/comments?post={post_id}&per_page=100&page={page}",
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            listing = json.load(response)
        ids |= {item["id"] for item in listing["items"]}
        if page * listing["per_page"] >= listing["total"]:
            return ids
        page += 1


# --- measuring ----------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    rate: float
    reference: float
    reference_name: str
    target: float
    note: str = ""

    @property
    def round_ratios(self) -> list[float]:
        """Each round's ratio, where both sides were measured round by round: the two
        measured a few seconds apart, so drift of the machine's speed cancels out."""
        mine, theirs = getattr(self.rate, "rounds", ()), getattr(self.reference, "rounds", ())
        same_run = getattr(self.rate, "run", None) == getattr(self.reference, "run", 0)
        if not mine or len(mine) != len(theirs) or not same_run:
            return []
        return [a / b for a, b in zip(mine, theirs, strict=True) if b]

    @property
    def ratio(self) -> float:
        ratios = self.round_ratios
        if ratios:
            return statistics.median(ratios)
        return self.rate / self.reference if self.reference else 0.0

    @property
    def spread(self) -> str:
        ratios = self.round_ratios
        return f"rounds {min(ratios):.2f}-{max(ratios):.2f}" if len(ratios) > 1 else ""

    @property
    def ok(self) -> bool:
        return self.ratio >= self.target


class Rate(float):
    """A median rate that keeps each round's (``Result.ratio`` pairs them up)."""

    rounds: tuple[float, ...] = ()
    run: int | None = None  # which ``alternate`` measured it


_ALTERNATIONS = itertools.count()


def alternate(rounds: int, *measures) -> list[Rate]:
    """Run the measures in turn ``rounds`` times; the median rate of each."""
    rates: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for index, measure in enumerate(measures):
            rates[index].append(measure())
    medians, run = [], next(_ALTERNATIONS)
    for each in rates:
        median = Rate(statistics.median(each))
        median.rounds, median.run = tuple(each), run
        medians.append(median)
    return medians


def report(results: list[Result], machine: str) -> None:
    width = max(len(r.name) for r in results)
    print()
    print(f"Machine: {machine}")
    print(f"{'benchmark':{width}}  {'blog/s':>8}  {'ref/s':>8}  {'ratio':>6}  target  reference")
    for r in results:
        mark = "ok" if r.ok else "MISSED"
        notes = "  ".join(note for note in (r.note, r.spread) if note)
        print(
            f"{r.name:{width}}  {r.rate:8.0f}  {r.reference:8.0f}  {r.ratio:6.2f}  "
            f">= {r.target:<4.2f} {mark:6}  {r.reference_name}{('  ' + notes) if notes else ''}"
        )
    missed = [r.name for r in results if not r.ok]
    print()
    print("All targets hold." if not missed else f"Missed: {', '.join(missed)}")


def machine() -> str:
    cpus = os.cpu_count()
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {cpus} cores ({model}), Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--comments", type=int, default=1_000_000, help="for the scale runs")
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (make bench does it)", file=sys.stderr)
        return 2

    with scratch("bench", args.database, keep=args.keep) as (folder, database):
        args.database = database
        return run(args, folder)


@contextlib.contextmanager
def scratch(name: str, database: str, keep: bool = False) -> Iterator[tuple[Path, str]]:
    """A temporary folder, and the database URL to use: the given PostgreSQL database in a
    schema of its own (dropped afterwards: nothing else touched), or "" for SQLite."""
    folder = Path(tempfile.mkdtemp(prefix=f"blog-{name}-"))
    schema = f"{name}_{os.getpid()}"
    if database:
        database = _create_schema(database, schema)
    try:
        yield folder, database
    finally:
        if database:
            _drop_schema(database, schema)
        if keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def run(args: argparse.Namespace, folder: Path) -> int:
    seconds, rounds = args.seconds, args.rounds
    database = args.database or f"sqlite:///{folder / 'blog.db'}"
    site = Site(folder, database)
    say = lambda text: print(f"==> {text}", flush=True)  # noqa: E731

    say("setting up: migrations, an admin, 1,000 comments, a post with 100")
    site.flask("db", "upgrade")
    site.flask(
        "user",
        "create",
        "bench",
        "--role",
        "admin",
        "--email",
        "bench@example.org",
        "--password",
        PASSWORD,
    )
    token = site.flask("token", "create", "bench").strip()
    site.flask("bench", "seed", "--posts", "10", "--comments", "900")
    hundred = new_post(site, "A post with a hundred comments")
    site.flask(
        "bench",
        "seed",
        "--posts",
        "0",
        "--comments",
        "100",
        "--held-share",
        "0",
        "--post",
        slug_of(hundred),
    )
    guestbook = new_post(site, "Guestbook")
    guestbook_id = int(
        site.python(
            "from blog.services.posts import find_by_slug\n"
            f"print(find_by_slug({slug_of(guestbook)!r}).id)"
        ).strip()
    )

    reference_db = folder / "reference.db"
    with sqlite3.connect(reference_db) as conn:
        conn.execute(
            "CREATE TABLE rows (id INTEGER PRIMARY KEY, author TEXT, email TEXT, content TEXT)"
        )
    results: list[Result] = []

    # --- the post page, cached and not ---
    say("post page with 100 comments: cached, uncached, and the reference")
    with site.serve(page_cache=True) as cached, site.serve(page_cache=False) as uncached:
        body = fetch(cached.base + hundred)
        (folder / "page.html").write_bytes(body)
        reference_env = {
            **os.environ,
            "REFERENCE_BODY": str(folder / "page.html"),
            "REFERENCE_DATABASE": args.database or str(reference_db),
            # The blog's durability: both commit to the disk before answering.
            "REFERENCE_SYNCHRONOUS": "FULL",
        }
        if args.database:
            _reference_table(args.database)
        with gunicorn("reference:app", reference_env, cwd=ROOT / "bench") as reference:
            for url in (cached.base + hundred, uncached.base + hundred, reference.base + "/page"):
                warm(url)
            ref, hit, miss = alternate(
                rounds,
                lambda: wrk(reference.base + "/page", seconds)[0],
                lambda: wrk(cached.base + hundred, seconds)[0],
                lambda: wrk(uncached.base + hundred, seconds)[0],
            )
            kb = f"{len(body) // 1024} KB page"
            results.append(
                Result(
                    "post page, 100 comments, cached",
                    hit,
                    ref,
                    "minimal Flask, same bytes",
                    0.8,
                    kb,
                )
            )
            results.append(
                Result(
                    "post page, 100 comments, PAGE_CACHE=false",
                    miss,
                    ref,
                    "minimal Flask, same bytes",
                    0.25,
                    kb,
                )
            )

            # --- small-database rates the scale runs compare with ---
            say("front page and pending queue on 1,000 comments")
            cookie = admin_cookie(uncached.base)
            warm(uncached.base + "/")
            warm(uncached.base + "/admin/comments?status=pending", (cookie,))
            small_front, small_queue = alternate(
                rounds,
                lambda: wrk(uncached.base + "/", seconds)[0],
                lambda: wrk(uncached.base + "/admin/comments?status=pending", seconds, (cookie,))[
                    0
                ],
            )
            small_post = miss

            # --- the comment POST ---
            say("comment POST through the whole path, and the reference's one-row insert")
            fields = form_fields(fetch(cached.base + guestbook).decode())
            time.sleep(3.2)  # the time trap: a page younger than 3 s sends bots to spam
            acked = folder / "acknowledged"
            acked.mkdir()
            script = ROOT / "bench" / "post_comment.lua"

            def blog_post(base: str = cached.base) -> float:
                rate, out = wrk(
                    base + guestbook,
                    seconds,
                    script=script,
                    env={
                        "BENCH_PATH": guestbook,
                        "BENCH_FIELDS": urllib.parse.urlencode(fields),
                        "BENCH_OUT": str(acked),
                    },
                )
                others = int(re.search(r"OTHERS (\d+)", out).group(1))
                if others:
                    raise RuntimeError(f"{others} comment POSTs were not answered 303:\n{out}")
                return rate

            def reference_post(base: str = reference.base) -> float:
                rate, out = wrk(
                    base + "/form",
                    seconds,
                    script=script,
                    env={"BENCH_PATH": "/form", "BENCH_FIELDS": "x=1", "BENCH_OUT": str(folder)},
                )
                return rate

            ref_post, blog_posts = alternate(rounds, reference_post, blog_post)
            acknowledged = {
                int(line) for path in acked.iterdir() for line in path.read_text().split()
            }
            lost = len(acknowledged - stored_ids(cached.base, token, guestbook_id))
            results.append(
                Result(
                    "comment POST (token, checks, sanitize, insert, 303)",
                    blog_posts,
                    ref_post,
                    "minimal Flask, insert one row, synchronous=FULL as the blog",
                    0.5,
                    f"{len(acknowledged)} acknowledged, {lost} lost",
                )
            )
            if lost:
                print(f"!! {lost} acknowledged comments are missing", file=sys.stderr)

            if not args.database:
                # What SQLite's synchronous=FULL (the default: each commit on the disk before
                # its 303) costs, against NORMAL (the last commits may be lost to a power cut).
                say("the comment POST again with SQLITE_SYNCHRONOUS=NORMAL")
                relaxed_env = {**reference_env, "REFERENCE_SYNCHRONOUS": "NORMAL"}
                with (
                    site.serve(True, FLASK_SQLITE_SYNCHRONOUS="NORMAL") as relaxed,
                    gunicorn("reference:app", relaxed_env, cwd=ROOT / "bench") as relaxed_ref,
                ):
                    warm(relaxed.base + guestbook)
                    ref_post, relaxed_posts = alternate(
                        rounds,
                        lambda: reference_post(relaxed_ref.base),
                        lambda: blog_post(relaxed.base),
                    )
                results.append(
                    Result(
                        "the same with SQLITE_SYNCHRONOUS=NORMAL (not the default)",
                        relaxed_posts,
                        ref_post,
                        "minimal Flask, insert one row, synchronous=NORMAL",
                        0.5,
                        f"FULL costs {1 - blog_posts / relaxed_posts:.0%} of NORMAL's rate",
                    )
                )

    # --- data scale ---
    if args.comments > 0:
        say(f"seeding {args.comments:,} more comments (30% held) and a post with 10,000")
        started = time.monotonic()
        site.flask("bench", "seed", "--posts", "200", "--comments", str(args.comments - 10_000))
        big_post = new_post(site, "A post with ten thousand comments")
        site.flask(
            "bench",
            "seed",
            "--posts",
            "0",
            "--comments",
            "10000",
            "--held-share",
            "0",
            "--post",
            slug_of(big_post),
        )
        say(f"seeded in {time.monotonic() - started:.0f} s")
        with site.serve(page_cache=False) as uncached:
            cookie = admin_cookie(uncached.base)
            queue = "/admin/comments?status=pending"
            for url, headers in ((hundred, ()), ("/", ()), (queue, (cookie,))):
                warm(uncached.base + url, headers)
            big = alternate(
                rounds,
                lambda: wrk(uncached.base + hundred, seconds)[0],
                lambda: wrk(uncached.base + "/", seconds)[0],
                lambda: wrk(uncached.base + queue, seconds, (cookie,))[0],
            )
        n = f"{args.comments:,} comments"
        results.append(
            Result(
                f"post page (100 comments), {n}",
                big[0],
                small_post,
                "the same on 1,000 comments",
                1 / 1.5,
            )
        )
        results.append(
            Result(f"front page, {n}", big[1], small_front, "the same on 1,000 comments", 1 / 1.5)
        )
        results.append(
            Result(
                f"pending queue, {n}", big[2], small_queue, "the same on 1,000 comments", 1 / 1.5
            )
        )

        say("comment paging on (50 threads a page): the 10,000-comment post")
        site.python(
            "import dataclasses\n"
            "from blog.services import settings as s\n"
            "d = dataclasses.replace(\n"
            "    s.discussion_settings(), page_comments=True, comments_per_page=50\n"
            ")\n"
            "s.save_discussion(d, s.comment_whitelist_text())"
        )
        with site.serve(page_cache=False) as uncached:
            last = re.search(
                rb"Comment page 1 of (\d+)", fetch(uncached.base + big_post + "?cpage=1")
            )
            pages = int(last.group(1)) if last else 1
            urls = (hundred, big_post + "?cpage=1", big_post + f"?cpage={pages}")
            for url in urls:
                warm(uncached.base + url)
            base_rate, first, last_rate = alternate(
                rounds, *(lambda url=url: wrk(uncached.base + url, seconds)[0] for url in urls)
            )
        results.append(
            Result(
                "10,000 comments, first comment page",
                first,
                base_rate,
                "the 100-comment post, paged",
                0.5,
            )
        )
        results.append(
            Result(
                f"10,000 comments, last comment page ({pages})",
                last_rate,
                base_rate,
                "the 100-comment post, paged",
                0.5,
            )
        )

    report(results, machine() + (", PostgreSQL" if args.database else ", SQLite"))
    return 0


def _create_schema(url: str, schema: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={urllib.parse.quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str, schema: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _reference_table(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS rows (id SERIAL PRIMARY KEY, "
                "author TEXT, email TEXT, content TEXT)"
            )
        )
    engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
