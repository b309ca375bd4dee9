"""Names in a `get-account-authorization-details` dump checked as IAM checks them, before any fact
is planned: an invalid name leaves its entity out, two names equal but for case are a conflict.

Pure: returns the dump to import and the warnings; it never stores anything.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ledger.domain import names
from ledger.errors import ValidationError

# (dump list, name key, IAM kind, path key or None)
_ENTITIES = (("users", "UserName", "user", "Path"), ("groups", "GroupName", "group", "Path"),
             ("roles", "RoleName", "role", "Path"), ("policies", "PolicyName", "policy", "Path"))


def checked_names(dump: Any, warn: Callable[[str], None]) -> Any:
    """A copy of `dump` without the entities whose name or path IAM would refuse (each warned
    about), warning about names that differ only in case: IAM names are unique regardless of
    case ("you can't create resources named both MyResource and myresource"), so such a dump is
    a conflict the ledger cannot resolve: both are kept and reported."""
    kept: dict[str, list[dict[str, Any]]] = {}
    for attribute, name_key, kind, path_key in _ENTITIES:
        items = []
        first_spelling: dict[str, str] = {}
        for item in getattr(dump, attribute):
            name, path = item.get(name_key), item.get(path_key) or "/"
            if isinstance(name, str):
                try:
                    names.check_iam_name(kind, name)
                    names.check_path(path)
                except ValidationError as error:
                    warn(f"{kind} left out: {error.message}")
                    continue
                other = first_spelling.setdefault(name.lower(), name)
                if other != name:
                    warn(f"conflict: {kind}s {other!r} and {name!r} differ only in case, which IAM does not "
                         f"allow in one account; both are imported and the later one's name wins lookups")
            items.append(item)
        kept[attribute] = items
    return dataclasses.replace(dump, **kept)
