"""The hostile-input campaign: generated cases against `simulate`, the CloudTrail and snapshot
importers, the library's commands and queries, and the CLI; a report, not a timed test.

A finding is an untyped error (anything but a `LedgerError` from the library; a traceback, an
"internal error" line or an exit code other than 0/1/2 from the CLI; an exception out of an
importer; a simulate line that is not one UTF-8 JSON object), a rejected input that wrote
something, or a wedged store (a query or rebuild that fails afterwards). It never edits the
stores it checks other than through the ledger.
"""

from __future__ import annotations

import io
import json
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.adapters.logging import configure_logging
from ledger.application.facade import Ledger
from tests.trust._cloudtrail import data_event, secret_bearing_records
from tests.trust._hostile import Finding, hostile_policy, hostile_text, json_value, typed_or_ok

ACCOUNT = "111122223333"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "mediaconvert.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
# Share of the campaign each surface gets (examples at scale 1; about 51,000 cases in all).
PLAN = {"simulate": 20_000, "commands": 9_000, "queries": 6_000, "cloudtrail": 6_000, "snapshot": 3_000,
        "cli": 3_000, "enforcing": 3_000, "postgres": 1_000}


@dataclass
class Tally:
    """Cases per surface, findings, and the slowest case."""

    cases: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    stores_checked: int = 0
    wedged: int = 0
    slowest: dict[str, tuple[float, str]] = field(default_factory=dict)  # surface -> (seconds, case)

    def run(self, surface: str, label: Any, check: Callable[[], None]) -> None:
        started = time.perf_counter()
        try:
            check()
        except Finding as finding:
            self.findings.append(f"{surface}: {str(finding)[:240]}")
        except Exception as error:
            self.findings.append(f"{surface}: untyped {type(error).__name__}: {str(error)[:200]}")
        seconds = time.perf_counter() - started
        self.cases[surface] += 1
        if seconds > self.slowest.get(surface, (0.0, ""))[0]:
            self.slowest[surface] = (seconds, repr(label)[:160])

    def wedge_check(self, ledger: Ledger, where: str) -> None:
        """The queries every user runs, and a rebuild, must still answer on this store."""
        self.stores_checked += 1
        try:
            ledger.can(ALICE, "s3:GetObject", "arn:aws:s3:::media-out/k1")
            ledger.who_can("s3:GetObject", "arn:aws:s3:::media-out/k1")
            ledger.diff("2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z")
            ledger.rebuild()
            ledger.who_can("iam:CreateUser", "*")
        except Exception as error:
            self.wedged += 1
            self.findings.append(f"wedged store after {where}: {type(error).__name__}: {str(error)[:200]}")


def _settings(examples: int) -> settings:
    return settings(max_examples=max(1, examples), deadline=None, database=None, derandomize=True,
                    suppress_health_check=list(HealthCheck))


def _seeded(url: str) -> Ledger:
    ledger = Ledger.open(url)
    ledger.create_account(ACCOUNT, "fuzz")
    ledger.create_user(ACCOUNT, "alice")
    ledger.create_bucket(ACCOUNT, "media-out")
    ledger.create_role(ACCOUNT, "MC", TRUST)
    return ledger


# ---------------------------------------------------------------- simulate

scenarios = st.one_of(
    json_value,
    st.fixed_dictionaries({"id": st.one_of(hostile_text, st.integers()), "principal": hostile_text,
                           "action": hostile_text, "resource": hostile_text},
                          optional={"identity_policies": st.lists(hostile_policy, max_size=2),
                                    "resource_policy": hostile_policy, "context": json_value,
                                    "permission_boundaries": st.lists(hostile_policy, max_size=1),
                                    "principal_account": hostile_text, "scps": st.lists(hostile_policy, max_size=1)}),
    st.fixed_dictionaries({"id": hostile_text, "principal": st.just(ALICE), "action": st.just("s3:GetObject"),
                           "resource": hostile_text, "identity_policies": st.lists(hostile_policy, max_size=2)}),
)


def _simulate_one(scenario: Any) -> None:
    from ledger.policy import run_simulate

    line = json.dumps(scenario) if not isinstance(scenario, str) else scenario.replace("\n", " ")
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    run_simulate(io.StringIO(line + "\n"), out)
    lines = raw.getvalue().decode("utf-8").split("\n")[:-1]  # JSON Lines end each line with \n only
    if not line.strip():
        return
    if len(lines) != 1 or not isinstance(answer := json.loads(lines[0]), dict) or "error" not in answer:
        raise Finding(f"simulate answered {lines!r:.200} for one scenario")
    if str(answer["error"] or "").startswith("InternalError"):
        raise Finding(f"simulate: {answer['error']}")


def simulate_surface(tally: Tally, examples: int) -> None:
    @_settings(examples)
    @given(scenarios)
    def cases(scenario: Any) -> None:
        tally.run("simulate", scenario, lambda: _simulate_one(scenario))

    cases()


# ---------------------------------------------------------------- library commands and queries


def commands_surface(tally: Tally, ledger: Ledger, examples: int, surface: str = "commands") -> None:
    job_arn = ledger.create_job(ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:role/MC",
                                outputs=["s3://media-out/"])[0].job_arn

    def check(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        tally.run(surface, (getattr(fn, "__name__", fn), args, kwargs), lambda: typed_or_ok(ledger, fn, *args, **kwargs))

    @_settings(examples // 8)
    @given(hostile_text, hostile_text, hostile_text, st.dictionaries(hostile_text, hostile_text, max_size=3),
           hostile_policy)
    def cases(text: str, name: str, arn: str, tags: dict[str, str], document: Any) -> None:
        check(ledger.create_user, text, name)
        check(ledger.create_group, ACCOUNT, name, path=text)
        check(ledger.attach_user_policy, ACCOUNT, "alice", arn)
        check(ledger.tag_user, ACCOUNT, "alice", tags)
        check(ledger.create_bucket, ACCOUNT, name, region=text)
        check(ledger.write_output, job_arn, "media-out", text)
        check(ledger.assume_role, arn, f"arn:aws:iam::{ACCOUNT}:role/MC", name)
        check(ledger.put_user_policy, ACCOUNT, "alice", name, document)

    cases()


def queries_surface(tally: Tally, ledger: Ledger, examples: int, surface: str = "queries") -> None:
    def check(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        tally.run(surface, (getattr(fn, "__name__", fn), args, kwargs), lambda: typed_or_ok(ledger, fn, *args, **kwargs))

    @_settings(examples // 6)
    @given(hostile_text, hostile_text, hostile_text, json_value)
    def cases(principal: str, action: str, resource: str, context: Any) -> None:
        check(ledger.can, principal, action, resource)
        check(ledger.can, ALICE, action, resource, context=context if isinstance(context, dict) else None,
              at=principal)
        check(ledger.who_can, action, resource)
        check(ledger.owner_of, resource)
        check(ledger.history, principal)
        check(ledger.what_can, principal, at=action)

    cases()


def refused_or_ok(ledger: Ledger, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Enforcing mode: success, a typed error that wrote nothing, or AccessDenied having written
    exactly its one CommandDenied fact."""
    from ledger.errors import AccessDeniedError, LedgerError

    before = ledger.store.max_position()
    try:
        fn(*args, **kwargs)
    except AccessDeniedError:
        written = [e.event_type for e in ledger.events(after=before)]
        if written != ["CommandDenied"]:
            raise Finding(f"{fn.__name__} was refused but wrote {written}") from None
    except LedgerError:
        if ledger.store.max_position() != before:
            raise Finding(f"{fn.__name__} was rejected but wrote events") from None


def enforcing_surface(tally: Tally, url: str, examples: int) -> None:
    """Enforcing mode with hostile actors, times and sources: only typed refusals."""
    with Ledger.open(url, enforcing=True) as ledger:
        def check(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
            tally.run("enforcing", (fn.__name__, args, kwargs), lambda: refused_or_ok(ledger, fn, *args, **kwargs))

        @_settings(examples // 3)
        @given(hostile_text, hostile_text, st.sampled_from(["api", "cloudtrail", "snapshot", "x"]))
        def cases(actor: str, when: str, source: str) -> None:
            check(ledger.create_user, ACCOUNT, "bob", actor=actor)
            check(ledger.create_group, ACCOUNT, "g1", actor=ALICE, at=when)
            check(ledger.attach_scp, ACCOUNT, "p-1", {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Action": "*", "Resource": "*"}]}, actor=actor, source=source)

        cases()


# ---------------------------------------------------------------- importers

RECORD_FIELDS = ["userIdentity", "eventTime", "eventName", "eventSource", "eventID", "requestParameters",
                 "responseElements", "recipientAccountId", "resources", "sharedEventID", "errorCode"]


def _import_one(ledger: Ledger, path: Path) -> None:
    from ledger.application.importing.runner import import_cloudtrail

    before = ledger.store.max_position()
    summary = import_cloudtrail(ledger, [path], max_file_bytes=4 << 20)
    written = ledger.store.max_position() - before
    if summary.errors and written:
        raise Finding(f"a rejected file wrote {written} events: {summary.errors}")


def cloudtrail_surface(tally: Tally, ledger: Ledger, folder: Path, examples: int,
                       surface: str = "cloudtrail") -> None:
    templates = [data_event(7), *secret_bearing_records()]

    @_settings(examples // 2)
    @given(st.sampled_from(range(len(templates))), st.sampled_from(RECORD_FIELDS), json_value,
           st.sampled_from(["userName", "roleArn", "bucketName", "key", "durationSeconds", "policyArn", "tags"]),
           st.one_of(hostile_text, st.integers(), json_value))
    def records(which: int, field_name: str, value: Any, param: str, param_value: Any) -> None:
        record = json.loads(json.dumps(templates[which]))
        record[field_name] = value
        twin = json.loads(json.dumps(templates[which]))
        twin["eventID"] = uuid.uuid4().hex
        if isinstance(twin.get("requestParameters"), dict):
            twin["requestParameters"][param] = param_value
        for number, body in enumerate(({"Records": [record]}, {"Records": [twin]})):
            path = folder / f"ct-{number}.json"
            path.write_text(json.dumps(body), encoding="utf-8", errors="surrogatepass")
            tally.run(surface, body, lambda path=path: _import_one(ledger, path))

    records()

    @_settings(examples // 10)
    @given(st.binary(max_size=300), st.sampled_from([b"", b"\x1f\x8b", b'{"Records": [', b"[", b"\xef\xbb\xbf"]))
    def raw_files(content: bytes, prefix: bytes) -> None:
        path = folder / "raw.json"
        path.write_bytes(prefix + content)
        tally.run(surface, prefix + content, lambda: _import_one(ledger, path))

    raw_files()


def snapshot_surface(tally: Tally, ledger: Ledger, folder: Path, examples: int) -> None:
    from ledger.application.importing.runner import import_snapshot

    entity = st.fixed_dictionaries({"UserName": hostile_text, "UserId": hostile_text, "Path": hostile_text},
                                   optional={"Arn": hostile_text, "UserPolicyList": json_value,
                                             "AttachedManagedPolicies": json_value, "Tags": json_value,
                                             "GroupList": json_value, "PermissionsBoundary": json_value})

    @_settings(examples)
    @given(st.lists(entity, max_size=3), st.one_of(st.just(ACCOUNT), hostile_text), json_value)
    def dumps(users: list[dict[str, Any]], account: str, extra: Any) -> None:
        path = folder / "gaad.json"
        body = {"UserDetailList": users, "GroupDetailList": [], "RoleDetailList": [], "Policies": [],
                "IsTruncated": False, "Extra": extra}
        path.write_text(json.dumps(body), encoding="utf-8", errors="surrogatepass")

        def check() -> None:
            typed_or_ok(ledger, import_snapshot, ledger, [path], at="2024-03-01T00:00:00Z", account=account)

        tally.run("snapshot", body, check)

    dumps()


# ---------------------------------------------------------------- CLI

CLI_COMMANDS = ["can", "who-can", "what-can", "history", "owner", "lineage", "diff", "timeline", "log",
                "simulate", "import-cloudtrail", "import-snapshot"]


def _cli_args(command: str, text: str, file: Path) -> list[str]:
    return {
        "can": ["can", ALICE, "s3:GetObject", text], "who-can": ["who-can", "s3:GetObject", text],
        "what-can": ["what-can", text], "history": ["history", text], "owner": ["owner", text],
        "lineage": ["lineage", text], "diff": ["diff", text, "2030-01-01T00:00:00Z"],
        "timeline": ["timeline", ALICE, "s3:GetObject", text], "log": ["log", "--after", text],
        "simulate": ["simulate", "-i", str(file)], "import-cloudtrail": ["import", "cloudtrail", str(file)],
        "import-snapshot": ["import", "snapshot", str(file), "--at", "2024-03-01T00:00:00Z", "--account", ACCOUNT],
    }[command]


def _cli_one(url: str, command: str, text: str, file: Path) -> None:
    from tests.trust._support import run_cli

    result = run_cli("--db", url, *_cli_args(command, text, file))
    shown = result.out + result.err
    if result.code not in (0, 1, 2) or "Traceback" in shown or "internal error" in shown:
        raise Finding(f"cli {command}: exit {result.code}: {result.err.strip()[:200]}")


def cli_surface(tally: Tally, folder: Path, examples: int, probe: int = 100_000) -> None:
    """CLI arguments of up to 4,096 characters (a shell's practical limit is far above, but Rich
    wraps a long unbroken word in quadratic time: the one `probe`-character argument shows it)."""
    url = f"sqlite:///{folder}/cli-{uuid.uuid4().hex[:8]}.db"
    _seeded(url).close()
    file = folder / "cli-input.json"

    @_settings(examples)
    @given(st.sampled_from(CLI_COMMANDS), hostile_text.filter(lambda s: "\x00" not in s and len(s) <= 4096),
           json_value)
    def cases(command: str, text: str, content: Any) -> None:
        file.write_text(json.dumps(content) + "\n" + text, encoding="utf-8", errors="surrogatepass")
        tally.run("cli", (command, text), lambda: _cli_one(url, command, text, file))

    cases()
    long_word = "a" * probe
    tally.run("cli", ("history", f"{long_word[:20]}… ({probe:,} characters)"),
              lambda: _cli_one(url, "history", long_word, file))


# ---------------------------------------------------------------- the campaign


def run_campaign(folder: Path, scale: float, postgres_url: Callable[[], Any] | None = None) -> Tally:
    """Every surface at `scale` × `PLAN` cases; stores are wedge-checked after each surface."""
    tally = Tally()
    n = {surface: max(10, int(count * scale)) for surface, count in PLAN.items()}
    steps: list[tuple[str, Callable[[], None]]] = [("simulate", lambda: simulate_surface(tally, n["simulate"]))]
    url = f"sqlite:///{folder}/fuzz-{uuid.uuid4().hex[:8]}.db"
    ledger = _seeded(url)
    steps += [
        ("commands", lambda: commands_surface(tally, ledger, n["commands"])),
        ("queries", lambda: queries_surface(tally, ledger, n["queries"])),
        ("cloudtrail", lambda: cloudtrail_surface(tally, ledger, folder, n["cloudtrail"])),
        ("snapshot", lambda: snapshot_surface(tally, ledger, folder, n["snapshot"])),
        ("cli", lambda: (cli_surface(tally, folder, n["cli"], 100_000 if scale >= 1 else 20_000),
                         configure_logging("error"))),
        ("enforcing", lambda: enforcing_surface(tally, url, n["enforcing"])),
    ]
    for name, step in steps:
        try:
            step()
        except Exception:
            traceback.print_exc(limit=2)
            tally.findings.append(f"{name}: the surface stopped")
        if name != "simulate":
            tally.wedge_check(ledger, name)
    ledger.close()
    if postgres_url is not None:
        with postgres_url() as pg_url:
            pg = _seeded(pg_url)
            try:
                commands_surface(tally, pg, n["postgres"], surface="commands (PostgreSQL)")
                queries_surface(tally, pg, n["postgres"], surface="queries (PostgreSQL)")
                cloudtrail_surface(tally, pg, folder, n["postgres"] // 2, surface="cloudtrail (PostgreSQL)")
                tally.wedge_check(pg, "PostgreSQL commands and imports")
            finally:
                pg.close()
    return tally

