"""``make soak``: mixed reading, commenting and moderating for a long while, then a check.

Readers fetch posts and the front page (no cookie: the page cache serves them), commenters
post the form as a browser does (its hidden fields sent back), a moderator approves,
spams and trashes held comments through the API. Every few seconds the resident memory
of each gunicorn worker is read from /proc. At the end:

- no answer was an error (5xx, or anything a client did not expect);
- every acknowledged comment is stored, with the status the moderator last gave it;
- the queue's counts and each post's comment count are exactly what that adds up to;
- each worker's memory grew less than 10% from the end of the warm-up (the first fifth).

    .venv/bin/python bench/soak.py [--minutes 30] [--database postgresql+psycopg://...]

Loopback only, bounded in time, stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

from run import PASSWORD, Site, fetch, form_fields, new_post, scratch

POSTS = 5
READERS, COMMENTERS = 4, 2
GROWTH_LIMIT = 0.10


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def call(self, method: str, path: str, body: bytes | None = None, **headers: str):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


def worker_pids(master: int) -> list[int]:
    """The gunicorn master's children (its workers), from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == master:
            found.append(int(stat.parent.name))
    return found


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def soak(args: argparse.Namespace, folder: Path) -> int:
    database = args.database or f"sqlite:///{folder / 'blog.db'}"
    site = Site(folder, database)
    say = lambda text: print(f"==> {text}", flush=True)  # noqa: E731
    site.flask("db", "upgrade")
    site.flask("user", "create", "bench", "--role", "admin", "--email", "bench@example.org",
               "--password", PASSWORD)  # fmt: skip
    token = site.flask("token", "create", "bench").strip()
    paths = [new_post(site, f"Soak post {n}") for n in range(POSTS)]
    if args.paged:
        # Pages of 50 threads: what a render does stays the same size as comments pile up.
        site.python(
            "import dataclasses\n"
            "from blog.services import settings as s\n"
            "paged = dataclasses.replace(s.discussion_settings(), page_comments=True)\n"
            "s.save_discussion(paged, s.comment_whitelist_text())"
        )
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    errors: Counter[str] = Counter()
    final: dict[int, str] = {}  # comment id -> the status it must have at the end
    lock = threading.Lock()
    stop = threading.Event()
    done = Counter()

    with site.serve(page_cache=True) as server:
        client = Client(server.port)
        posts = json.loads(client.call("GET", "/api/v1/posts?per_page=100", **auth)[2])
        post_ids = {item["url"]: item["id"] for item in posts["items"]}
        forms = {path: form_fields(fetch(server.base + path).decode()) for path in paths}
        time.sleep(3.2)  # the form's time trap

        def reader() -> None:
            while not stop.is_set():
                path = random.choice([*paths, "/"])  # noqa: S311
                status, _, _ = client.call("GET", path)
                if status != 200:
                    errors[f"GET {status}"] += 1
                done["read"] += 1

        def commenter(n: int) -> None:
            count = 0
            while not stop.is_set():
                count += 1
                path = random.choice(paths)  # noqa: S311
                tag = f"{n}-{count}-{random.random()}"  # noqa: S311
                body = urllib.parse.urlencode({**forms[path], "author": f"Soak {tag}",
                    "email": f"s{tag}@example.org", "url": "",
                    "comment": f"Soak comment {tag}."}).encode()  # fmt: skip
                status, headers, _ = client.call(
                    "POST", path, body, **{"Content-Type": "application/x-www-form-urlencoded"}
                )
                if status != 303:
                    errors[f"POST {status}"] += 1
                    continue
                comment_id = int(headers["Location"].rsplit("#comment-", 1)[1])
                with lock:
                    # Held (a first comment from its email), unless the moderator was quicker.
                    final.setdefault(comment_id, "pending")
                done["comment"] += 1
                time.sleep(0.05)

        def moderator() -> None:
            choices = ["approved"] * 6 + ["spam"] * 2 + ["trash"]
            while not stop.is_set():
                status, _, raw = client.call("GET", "/api/v1/comments?status=pending&per_page=20",
                                             **auth)  # fmt: skip
                if status != 200:
                    errors[f"queue {status}"] += 1
                    continue
                for item in json.loads(raw)["items"]:
                    to = random.choice(choices)  # noqa: S311
                    body = json.dumps({"status": to}).encode()
                    patched = client.call("PATCH", f"/api/v1/comments/{item['id']}", body, **auth)
                    if patched[0] != 200:
                        errors[f"PATCH {patched[0]}"] += 1
                        continue
                    with lock:
                        final[item["id"]] = to
                    done["moderated"] += 1
                time.sleep(0.5)

        threads = [threading.Thread(target=reader) for _ in range(READERS)]
        threads += [threading.Thread(target=commenter, args=(n,)) for n in range(COMMENTERS)]
        threads.append(threading.Thread(target=moderator))
        seconds = args.minutes * 60
        say(f"soaking for {args.minutes:g} minutes: {READERS} readers, {COMMENTERS} commenters, "
            "a moderator")  # fmt: skip
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples: list[tuple[float, dict[int, int]]] = []
        while time.monotonic() - started < seconds:
            time.sleep(min(10, seconds / 20))
            samples.append((time.monotonic() - started, {
                pid: rss_kib(pid) for pid in worker_pids(server.process.pid)}))  # fmt: skip
        stop.set()
        for thread in threads:
            thread.join(timeout=60)

        say("checking every acknowledged comment, the queue and the counts")
        stored: dict[int, str] = {}
        for status_name in ("pending", "approved", "spam", "trash"):
            page = 1
            while True:
                _, _, raw = client.call("GET", f"/api/v1/comments?status={status_name}"
                                        f"&per_page=100&page={page}", **auth)  # fmt: skip
                listing = json.loads(raw)
                stored |= {item["id"]: item["status"] for item in listing["items"]}
                if page * listing["per_page"] >= listing["total"]:
                    break
                page += 1
        wrong = {cid: (want, stored.get(cid)) for cid, want in final.items()
                 if stored.get(cid) != want}  # fmt: skip
        expected_counts = Counter(final.values())
        posts_now = json.loads(client.call("GET", "/api/v1/posts?per_page=100", **auth)[2])
        counted = sum(item["comment_count"] for item in posts_now["items"]
                      if item["id"] in post_ids.values())  # fmt: skip

    warm_end = seconds / 5
    after_warm = [s for s in samples if s[0] >= warm_end]
    growth = {}
    if after_warm:
        first, last = after_warm[0][1], after_warm[-1][1]
        growth = {pid: (last[pid] - first[pid]) / first[pid] for pid in first if pid in last}
    print(f"\nrequests: {dict(done)}; errors: {dict(errors) or 'none'}")
    print(f"comments: {len(final)} acknowledged, by final status {dict(expected_counts)}; "
          f"wrong or missing: {len(wrong)}")  # fmt: skip
    print(f"approved comments counted on the posts: {counted} (expected "
          f"{expected_counts['approved']})")  # fmt: skip
    for pid, share in growth.items():
        kib = after_warm[-1][1][pid]
        print(f"worker {pid}: RSS {kib / 1024:.1f} MiB at the end, {share:+.1%} since warm-up")
    failed = (
        bool(errors)
        or bool(wrong)
        or counted != expected_counts["approved"]
        or not growth
        or any(share >= GROWTH_LIMIT for share in growth.values())
    )
    print("SOAK FAILED" if failed else "soak passed")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument(
        "--paged", action="store_true", help="comments in pages of 50 (WordPress's setting)"
    )
    parser.add_argument("--database", default="", help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    with scratch("soak", args.database) as (folder, database):
        args.database = database
        return soak(args, folder)


if __name__ == "__main__":
    sys.exit(main())
