"""What `ledger demo` prints: who is who in the story, then the five answers as tables.

Presentation only: it reads the demo's answers (JSON-ready dicts) and never computes one.
"""

from __future__ import annotations

from typing import Any

from ledger.cli.app import console
from ledger.cli.render import heading, styled, table


def print_cast() -> None:
    """The two accounts and the people of the story, before any answer refers to them."""
    from ledger.application.demo import CAST

    heading("The story: MediaConvert access control, from the AWS guide")
    for account in CAST["accounts"]:
        console.print(f"account {account['id']} ({account['name']}): {account['role']}", soft_wrap=True)
    for person in CAST["people"]:
        line = styled(f"  {person['name']:<17}", "bold")
        line.append(f"{person['who']} ({person['arn']})")
        console.print(line, soft_wrap=True)
    console.print(f"What happens: {CAST['plot']}", soft_wrap=True)


def _origin(statement: dict[str, Any]) -> str:
    origin = statement.get("Origin") or {}
    where = (
        f"#{origin['position']} {origin['event_type']} {origin['occurred_at'][:16]}" if origin.get("position") else ""
    )
    stmt = statement.get("Sid") or statement.get("StatementIndex")
    return f"{statement.get('SourcePolicyId')} [{stmt}] {where}".strip()


def _event(statement: dict[str, Any]) -> str:
    origin = statement.get("Origin") or {}
    return f"#{origin['position']} {origin['event_type']}" if origin.get("position") else "?"


def _step(step: dict[str, Any]) -> str:
    principal = str(step.get("principal", "")).rsplit(":", 1)[-1]
    return f"{principal} {step.get('action')}"


def print_demo_answers(facts: Any, answers: dict[str, Any]) -> None:
    """The five questions of the design brief, answered as tables a person can read."""
    _print_who_could(facts, answers["q1_who_could_write_the_output"])
    _print_changes(answers["q2_what_changed"])
    _print_lineage_and_owners(answers["q3_lineage_and_owner"])
    _print_could_vs_did(answers["q4_could_vs_did"])
    _print_decision_and_proof(facts, answers["q5_past_decision_and_proof"])


def _print_who_could(facts: Any, who: dict[str, Any]) -> None:
    heading(f"1. Who could s3:PutObject {facts.first_output} at {facts.while_granted}, and how?")
    rows = []
    for entry in who["principals"]:
        decision = entry["EvalDecision"] + (
            " if " + ", ".join(entry["missing_context"]) + " holds" if entry.get("conditional") else ""
        )
        path = " → ".join(_step(step) for step in entry["path"]) or "direct"
        grants = dict.fromkeys(_event(s) for step in entry["path"] for s in step.get("via", []))
        rows.append((entry["principal"], decision, path, ", ".join(grants)))
    console.print(table("principal", "decision", "path", "granted by (events)", rows=rows))


def _print_changes(changes: dict[str, Any]) -> None:
    heading(f"2. Effective access gained and lost between {changes['t1']} and {changes['t2']}")
    rows = [(kind, item["principal"], item["action"], item["resource"],
             ", ".join(f"#{c['position']} {c['event_type']}" for c in item["caused_by"]))
            for kind in ("gained", "lost") for item in changes[kind]]
    console.print(table("change", "principal", "action", "resource", "caused by", rows=rows))


def _print_lineage_and_owners(answer: dict[str, Any]) -> None:
    lineage = answer["lineage"]
    job = lineage.get("job") or {}
    heading("3. Who produced the output, who owns it, and why")
    console.print(
        f"{lineage['object']}\n  written by {lineage['writer']} (account {lineage['writer_account']}), "
        f"ACL {lineage.get('acl')}, bucket setting then {lineage.get('object_ownership_at_write')}\n"
        f"  job {job.get('arn')} created by {job.get('creator')} passing {job.get('passed_role')}", soft_wrap=True,
    )
    rows = [(key.replace("_", " "), when, owner["owner_account"], owner["reason"])
            for key, by_time in answer["owners"].items() for when, owner in by_time.items()]
    console.print(table("object", "when", "owner account", "why", rows=rows))


def _print_could_vs_did(calls: list[dict[str, Any]]) -> None:
    heading("4. Could vs did: which grant authorised each observed call")
    rows = [(f"{item['call']['at'][:16]} {item['call']['principal'].rsplit(':', 1)[-1]} {item['call']['action']}",
             str(item["call"]["aws_said"]), item["ledger_says"],
             "\n".join(_origin(s) for s in item["authorised_by"]) or "no grant in force")
            for item in calls]
    console.print(table("call (CloudTrail)", "AWS said", "ledger says", "authorised by", rows=rows))


def _print_decision_and_proof(facts: Any, proof: dict[str, Any]) -> None:
    heading(f"5. The state bob's CreateJob decision used at {facts.while_granted}, and proof")
    console.print(f"decision: {proof['decision']['EvalDecision']}")
    for statement in proof["decision"]["MatchedStatements"]:
        console.print(f"  {_origin(statement)}", soft_wrap=True)
    checkpoint = proof["checkpoint"]
    console.print(f"checkpoint: {checkpoint['tree_size']} events, root {checkpoint['root_hash']}", soft_wrap=True)
    for item in proof["inclusion_proofs"]:
        console.print(
            f"  event #{item['position']}: inclusion proof of {item['audit_path_length']} hashes "
            f"{'verifies' if item['verifies'] else 'FAILS'}"
        )
    console.print(f"whole log verified against the checkpoint: {proof['log_verified']} ({proof['verify_reason']})",
                  soft_wrap=True)
    console.print(f"projection (every answer's source) verified against the log: {proof['projection_verified']} "
                  f"({proof['projection_reason']})", soft_wrap=True)
