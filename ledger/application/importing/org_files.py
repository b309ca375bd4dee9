"""Reading an organisation as the AWS CLI prints it, into an `OrgSpec`, and refusing one that
cannot be (an OU cycle, an account in two OUs, an SCP or RCP outside its grammar).

Accepted (see `EXPECTED`): a directory of `<command>[.<id>].json` (or `.json.gz`) files, one per
CLI call; or one JSON file holding an object keyed by those names (or an array of such objects).
The parent or policy a call was made for is the `.<id>` part of its name, since the CLI's output
does not repeat it. Reads and validates only; never writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ledger.application.importing.files import discover, load_json
from ledger.application.importing.org_spec import POLICY_TYPES, OrgSpec, SpecPolicy
from ledger.domain.handlers.organizations import check_tree, org_policy_document
from ledger.domain.organization import AWS_MANAGED_DOCUMENTS
from ledger.errors import ImportFormatError, OrganizationStructureError

EXPECTED = {
    "describe-organization": "aws organizations describe-organization",
    "list-roots": "aws organizations list-roots",
    "list-organizational-units-for-parent": "… list-organizational-units-for-parent --parent-id ID (file .ID.json)",
    "list-accounts-for-parent": "… list-accounts-for-parent --parent-id ID (file .ID.json)",
    "list-policies": "… list-policies --filter SERVICE_CONTROL_POLICY | RESOURCE_CONTROL_POLICY (any suffix)",
    "describe-policy": "… describe-policy --policy-id ID (suffix optional: the output names the policy)",
    "list-targets-for-policy": "… list-targets-for-policy --policy-id ID (file .ID.json)",
    "list-accounts": "… list-accounts (optional: account names)",
}
Output = tuple[str, str, Any, str]  # (command, id suffix, CLI output, where it was read)


def read_outputs(source: str | Path) -> tuple[list[Output], list[str]]:
    """Every CLI output in a directory or a bundled file, and the names that were not understood."""
    path = Path(source)
    outputs: list[Output] = []
    ignored: list[str] = []
    if path.is_dir():
        for file in discover([path]):
            stem = file.name.removesuffix(".gz").removesuffix(".json")
            command, _, suffix = stem.partition(".")
            if command not in EXPECTED:
                ignored.append(file.name)
                continue
            outputs.append((command, suffix, load_json(file), file.name))
        return outputs, ignored
    document = load_json(path)
    for bundle in document if isinstance(document, list) else [document]:
        if not isinstance(bundle, dict):
            raise ImportFormatError("a bundled organisation must be an object keyed by CLI call", path=str(path))
        for name, output in bundle.items():
            command, _, suffix = str(name).partition(".")
            if command not in EXPECTED:
                ignored.append(str(name))
                continue
            outputs.append((command, suffix, output, f"{path.name}:{name}"))
    return outputs, ignored


def _items(output: Any, key: str, where: str) -> list[dict[str, Any]]:
    value = output.get(key) if isinstance(output, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ImportFormatError(f"expected {{\"{key}\": [...]}}", path=where)
    return value


def _one(outputs: list[Output], command: str) -> tuple[Any, str]:
    found = [(doc, where) for cmd, _, doc, where in outputs if cmd == command]
    if not found:
        raise ImportFormatError(f"{command}.json is missing: it is needed to know the organisation",
                                path=command)
    return found[0]


def _ou_id(item: dict[str, Any]) -> str | None:
    ident = item.get("Id")
    if isinstance(ident, str) and ident:
        return ident
    arn = item.get("Arn")  # AWS's own documented example lists OUs by Arn and Name only
    return arn.rsplit("/", 1)[-1] if isinstance(arn, str) and "/ou-" in arn else None


def build_spec(outputs: list[Output], warnings: list[str]) -> OrgSpec:
    """The organisation the outputs describe; raises a typed error for one that cannot be."""
    organization, where = _one(outputs, "describe-organization")
    details = organization.get("Organization") if isinstance(organization, dict) else None
    if not isinstance(details, dict):
        raise ImportFormatError('expected {"Organization": {...}}', path=where)
    management = details.get("MasterAccountId") or details.get("ManagementAccountId")
    if not isinstance(management, str) or not management.isdigit():
        raise ImportFormatError("no management account id (MasterAccountId)", path=where)
    roots_doc, roots_where = _one(outputs, "list-roots")
    roots = _items(roots_doc, "Roots", roots_where)
    if len(roots) != 1 or not isinstance(roots[0].get("Id"), str):
        raise ImportFormatError("expected exactly one root with an Id", path=roots_where)
    root = roots[0]
    spec = OrgSpec(management, details.get("Id") if isinstance(details.get("Id"), str) else None, root["Id"])
    spec.policy_types = {str(p.get("Type")) for p in root.get("PolicyTypes") or ()
                         if isinstance(p, dict) and p.get("Status") == "ENABLED" and p.get("Type") in POLICY_TYPES}
    _tree(outputs, spec)
    if not spec.complete_tree:
        warnings.append("the listings do not cover the root and every OU: an OU or account they do not name is "
                        "not treated as removed")
    _policies(outputs, spec, warnings)
    _attachments(outputs, spec, warnings)
    return spec


def _tree(outputs: list[Output], spec: OrgSpec) -> None:
    listed_units: set[str] = set()
    listed_accounts: set[str] = set()
    for command, parent, output, where in outputs:
        if command not in ("list-organizational-units-for-parent", "list-accounts-for-parent"):
            continue
        if not parent:
            raise ImportFormatError(f"name the parent: {command}.<parent id>.json", path=where)
        units = command.startswith("list-organizational")
        (listed_units if units else listed_accounts).add(parent)
        for item in _items(output, "OrganizationalUnits" if units else "Accounts", where):
            if units:
                ou = _ou_id(item)
                if ou is None:
                    raise ImportFormatError("an OU without Id or OU Arn", path=where)
                _once(spec.units, ou, (str(item.get("Name") or ou), parent), "OU", where)
            else:
                if not isinstance(item.get("Id"), str) or not item["Id"].isdigit():
                    raise ImportFormatError("an account without a 12-digit Id", path=where)
                if item.get("Status") in ("SUSPENDED", "PENDING_CLOSURE"):
                    continue
                _once(spec.accounts, item["Id"], parent, "account", where)
    check_tree(spec.units, spec.accounts)
    parents = {spec.root_id, *spec.units}
    spec.complete_tree = parents <= listed_units and parents <= listed_accounts


def _once(table: dict[str, Any], key: str, value: Any, kind: str, where: str) -> None:
    if key in table and table[key] != value:
        before = table[key][1] if isinstance(table[key], tuple) else table[key]
        after = value[1] if isinstance(value, tuple) else value
        raise OrganizationStructureError(f"{kind} {key} is listed under two parents: {before} and {after}",
                                         path=where)
    table[key] = value


def _policies(outputs: list[Output], spec: OrgSpec, warnings: list[str]) -> None:
    contents: dict[str, tuple[Any, dict[str, Any], str]] = {}
    for command, suffix, output, where in outputs:
        if command == "describe-policy":
            policy = output.get("Policy") if isinstance(output, dict) else None
            summary = policy.get("PolicySummary") if isinstance(policy, dict) else None
            if not isinstance(policy, dict) or not isinstance(summary, dict) \
                    or not isinstance(summary.get("Id", suffix), str):
                raise ImportFormatError('expected {"Policy": {"PolicySummary": {...}, "Content": "..."}}', path=where)
            contents[str(summary.get("Id") or suffix)] = (policy.get("Content"), summary, where)
    summaries: dict[str, dict[str, Any]] = {}
    for command, _, output, where in outputs:
        if command == "list-policies":
            for item in _items(output, "Policies", where):
                if item.get("Type") in POLICY_TYPES and isinstance(item.get("Id"), str):
                    summaries[item["Id"]] = item
                    spec.listed_types.add(str(item["Type"]))
    for policy_id, (_, summary, _) in contents.items():
        summaries.setdefault(policy_id, summary)
    for policy_id, summary in sorted(summaries.items()):
        if summary.get("Type") not in POLICY_TYPES:
            continue
        spec.policies[policy_id] = _policy(policy_id, summary, contents.get(policy_id), warnings)


def _policy(policy_id: str, summary: dict[str, Any], content: tuple[Any, dict[str, Any], str] | None,
            warnings: list[str]) -> SpecPolicy:
    policy_type = str(summary["Type"])
    name = str(summary.get("Name") or policy_id)
    aws_managed = bool(summary.get("AwsManaged"))
    description = summary.get("Description") if isinstance(summary.get("Description"), str) else None
    if content is None:
        known = AWS_MANAGED_DOCUMENTS.get(policy_id)
        if known is not None and known[0] == policy_type:
            return SpecPolicy(name, policy_type, known[2], True, description)
        warnings.append(f"{policy_type} {policy_id} ({name}): no describe-policy output, its document is "
                        "unknown; decisions it bears on will say so and fail closed")
        return SpecPolicy(name, policy_type, _unknown_document(policy_type), aws_managed, description)
    document = org_policy_document(content[0], policy_type, policy_id)
    return SpecPolicy(name, policy_type, document, aws_managed, description)


def _unknown_document(policy_type: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": "LedgerUnknownPolicyDocument", "Effect": "Allow",
                                 "Action": "ledger:UnknownPolicyDocument", "Resource": "*"}
    if policy_type != POLICY_TYPES[0]:
        statement["Principal"] = "*"
    return {"Version": "2012-10-17", "Statement": [statement]}


def _attachments(outputs: list[Output], spec: OrgSpec, warnings: list[str]) -> None:
    known_targets = {spec.root_id, *spec.units, *spec.accounts}
    for command, policy_id, output, where in outputs:
        if command != "list-targets-for-policy":
            continue
        if not policy_id:
            raise ImportFormatError("name the policy: list-targets-for-policy.<policy id>.json", path=where)
        if policy_id not in spec.policies:
            warnings.append(f"targets of {policy_id} ignored: the policy is not an SCP or RCP the import lists")
            continue
        spec.targets_known.add(policy_id)
        for item in _items(output, "Targets", where):
            target = item.get("TargetId")
            if not isinstance(target, str) or not target:
                raise ImportFormatError("a target without TargetId", path=where)
            if target not in known_targets:
                if spec.complete_tree:
                    raise OrganizationStructureError(
                        f"{policy_id} is attached to {target}, which no listing of the organisation names", path=where)
                warnings.append(f"{policy_id} is attached to {target}, which the listings do not name")
            spec.attachments.setdefault(policy_id, set()).add(target)
