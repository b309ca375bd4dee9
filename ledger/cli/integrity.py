"""Tamper-evidence commands: `checkpoint`, `keygen`, `prove`, `verify`.

They only read the store (a checkpoint is also kept in it). `verify` exits 0 when every check
holds, 1 when tampering is found (naming the first bad position or fact), 2 on usage or store
errors; it must never "repair" anything.
"""


from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ledger.cli.app import command, console, emit_json, json_option, open_store, wants_json
from ledger.cli.render import styled
from ledger.errors import NotFoundError, ValidationError
from ledger.timeaxis import MAX_POSITION

if TYPE_CHECKING:  # start-up: each command imports what it uses when it runs
    from ledger.application.trust import LedgerVerification
    from ledger.integrity import Checkpoint
    from ledger.integrity.verify import VerificationReport

EXIT_TAMPERED = 1
# A checkpoint of 1M events with chunk and projection digests is ~150 kB; far larger is not one.
_MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024
NOTHING_VOUCHED = ("no checkpoint: nothing is vouched for (the log only agrees with itself); take one with "
                   "`ledger checkpoint --out FILE` and keep the file out of band")


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint in the file at `path` (typed errors for a missing or malformed one)."""
    from ledger.integrity import Checkpoint

    try:
        size = path.stat().st_size
        if size > _MAX_CHECKPOINT_BYTES:
            raise ValidationError(f"{path} is {size} bytes: too large to be a checkpoint")
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"checkpoint file {path} does not exist") from None
    except OSError as error:
        raise ValidationError(f"cannot read checkpoint {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError(f"{path} is not UTF-8 text, so not a checkpoint") from None
    try:
        return Checkpoint.from_json(text)
    except ValidationError as error:
        raise ValidationError(f"{path}: {error.message}") from None


def _write_text(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ValidationError(f"cannot write {path}: {error.strerror}") from None


@command("keygen", read_only=False)
def keygen(
    key_file: Path = typer.Argument(..., help="Where to write the private key (public key: KEYFILE.pub)."),
) -> None:
    """Create an Ed25519 key pair for signing checkpoints (never overwrites an existing key)."""
    from ledger.integrity import generate_signing_key, key_id, public_key_path

    try:
        key = generate_signing_key(key_file)
    except OSError as error:
        raise ValidationError(f"cannot write key {key_file}: {error.strerror}") from None
    payload = {
        "private_key": str(key_file), "public_key": str(public_key_path(key_file)),
        "key_id": key_id(key.public_key()),
    }
    if wants_json(False):
        emit_json(payload)
        return
    console.print(
        f"wrote private key {payload['private_key']} (keep it secret) and public key "
        f"{payload['public_key']} (give it to verifiers); key id {payload['key_id']}", soft_wrap=True,
    )


@command("checkpoint", read_only=True)
def checkpoint(
    sign: Path = typer.Option(None, "--sign", help="Ed25519 private key (PEM) to sign with."),
    out: Path = typer.Option(None, "--out", help="Also write the checkpoint to this file (keep it out of band)."),
    manifest: Path = typer.Option(
        None, "--manifest", help="Also write the leaf-hash manifest (32 bytes per event) here."
    ),
    save: bool = typer.Option(True, "--save/--no-save", help="Also keep the checkpoint in the store."),
) -> None:
    """Print a checkpoint (JSON) of the whole log and of the projection derivable from it (tree
    size, root hash, time, chunk roots, projection digests); keep a copy out of band."""
    from ledger.application.trust import checkpoint_ledger
    from ledger.integrity import load_signing_key, write_leaf_manifest

    key = load_signing_key(sign) if sign is not None else None
    store = open_store()
    try:
        cp, leaves = checkpoint_ledger(store, key, keep_leaf_hashes=manifest is not None, save=save)
    finally:
        store.close()
    text = cp.to_json()
    if out is not None:
        _write_text(out, text + "\n")
    if manifest is not None and leaves is not None:
        try:
            write_leaf_manifest(manifest, leaves)
        except OSError as error:
            raise ValidationError(f"cannot write {manifest}: {error.strerror}") from None
    typer.echo(text)


def newest_checkpoint(checkpoint_file: Path | None) -> Checkpoint | None:
    """The checkpoint of `--checkpoint FILE`, else the newest one kept in the store (or None)."""
    from ledger.application.trust import stored_checkpoints

    if checkpoint_file is not None:
        return read_checkpoint(checkpoint_file)
    store = open_store()
    try:
        found = stored_checkpoints(store)
    finally:
        store.close()
    return max(found, key=lambda cp: cp.tree_size, default=None)


@command("prove", read_only=True)
def prove(
    position: str = typer.Argument(..., help="Log position of the event to prove."),
    checkpoint_file: Path = typer.Option(
        None, "--checkpoint", help="Prove inclusion in this checkpoint's tree (default: the whole log)."
    ),
    public_key: Path = typer.Option(None, "--public-key", help="Require the checkpoint to be signed by this key."),
) -> None:
    """Print an inclusion proof (JSON) for the event at POSITION, verified against the root."""
    from ledger.adapters.integrity_store import prove_store
    from ledger.integrity import load_public_key, verify_checkpoint_signature

    if not (position.isascii() and position.isdigit() and 1 <= int(position) <= MAX_POSITION):
        raise ValidationError(f"POSITION must be a log position from 1 to {MAX_POSITION}, not {position[:32]!r}")
    cp = read_checkpoint(checkpoint_file) if checkpoint_file is not None else None
    signature_ok: bool | None = None
    if public_key is not None:
        if cp is None:
            raise ValidationError("--public-key needs --checkpoint")
        signature_ok = verify_checkpoint_signature(cp, load_public_key(public_key))
    store = open_store()
    try:
        proof, verified = prove_store(store, int(position), cp)
    finally:
        store.close()
    ok = verified and signature_ok is not False
    payload: dict[str, Any] = {
        **asdict(proof), "path": list(proof.path), "verified": ok,
        "checkpoint_root": cp.root_hash if cp is not None else None,
        "signature_ok": signature_ok,
    }
    emit_json(payload)
    if not ok:
        raise typer.Exit(EXIT_TAMPERED)


@command("verify", read_only=True)
def verify(
    checkpoint_files: list[Path] = typer.Option(
        None, "--checkpoint", help="A checkpoint to check the log against (repeatable); the store's own too."
    ),
    public_key: Path = typer.Option(
        None, "--public-key", help="Every checkpoint must be signed by this Ed25519 key."
    ),
    manifest: Path = typer.Option(
        None, "--manifest", help="Leaf-hash manifest saved with a checkpoint (names the exact event)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Check the projection against the newest checkpoint's projection digest "
        "instead of folding the whole log (later events are vouched for by nobody)."
    ),
    require_checkpoint: bool = typer.Option(
        False, "--require-checkpoint", help="Exit 1 when no checkpoint vouches for the log."
    ),
    stored: bool = typer.Option(
        True, "--stored/--no-stored", help="Also check the checkpoints kept in the store (they are only as "
        "trustworthy as the store itself, unless --public-key requires signatures)."
    ),
    json_output: bool = json_option(),
) -> None:
    """Recompute the Merkle tree from the stored events and check every checkpoint and the
    consistency between successive ones; check that the projection (the tables every answer is
    read from) is exactly the fold of the log. Exit 0: all hold; 1: tampering found; 2: error.

    A checkpoint vouches for what it covers only if it was kept where the store's editors cannot
    reach it (a file out of band, or signed by a key they do not hold)."""
    from ledger.application.trust import verify_ledger
    from ledger.integrity import load_public_key, read_leaf_manifest

    checkpoints = [read_checkpoint(p) for p in checkpoint_files or []]
    key = load_public_key(public_key) if public_key is not None else None
    leaves = read_leaf_manifest(manifest) if manifest is not None else None
    store = open_store()
    try:
        result = verify_ledger(store, checkpoints, key, leaf_manifest=leaves, quick=quick, use_stored=stored)
    finally:
        store.close()
    unvouched = not result.vouched
    if wants_json(json_output):
        emit_json(_report_dict(result))
    else:
        _print_verification(result)
    if not result.ok or (unvouched and require_checkpoint):
        raise typer.Exit(EXIT_TAMPERED)


def _print_verification(result: LedgerVerification) -> None:
    log, projection = result.log, result.projection
    for warning in result.warnings:
        console.print(styled(f"warning: {warning}", "yellow"), soft_wrap=True)
    if log.ok:
        checkpoints = (f"{len(log.checkpoints)} checkpoint(s) ({result.given_checkpoints} given, "
                       f"{result.stored_checkpoints} kept in the store) and {len(log.consistency)} consistency "
                       "proof(s) hold")
        console.print(f"log ok: {log.tree_size} events (last position {log.last_position}), root {log.root_hash}; "
                      f"{checkpoints}", soft_wrap=True)
    else:
        console.print(f"TAMPERED: {_where(log)}: {log.reason}", soft_wrap=True)
    if projection.ok:
        console.print(f"projection {projection.reason}", soft_wrap=True)
    else:
        console.print(f"TAMPERED projection: {projection.reason}", soft_wrap=True)
        first = projection.first
        if first is not None and first.events:
            console.print(f"  the events that should have produced it: "
                          f"{', '.join(f'#{p}' for p in first.events)}", soft_wrap=True)
    if not result.vouched:
        console.print(styled(f"warning: {NOTHING_VOUCHED}", "yellow"), soft_wrap=True)


def _where(report: VerificationReport) -> str:
    """The first bad position, or the range it is proven to lie in (chunk roots only)."""
    for check in report.checkpoints:
        if (
            not check.ok and not check.exact and check.suspect_positions is not None
            and check.first_bad_position == report.first_bad_position
            and not any(c.exact and c.first_bad_position == report.first_bad_position
                        for c in report.checkpoints)
        ):
            low, high = check.suspect_positions
            return f"first bad position between {low} and {high}"
    return f"first bad position {report.first_bad_position}"


def _report_dict(result: LedgerVerification) -> dict[str, Any]:
    """The log report's keys as before, plus `projection`, `vouched` and `warnings`."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(result.log), default=list))
    data["ok"] = result.ok
    data["log_ok"] = result.log.ok
    data["projection"] = json.loads(json.dumps(asdict(result.projection), default=list))
    data["vouched"] = result.vouched
    data["given_checkpoints"] = result.given_checkpoints
    data["stored_checkpoints"] = result.stored_checkpoints
    data["warnings"] = [*result.warnings, *([] if result.vouched else [NOTHING_VOUCHED])]
    return data
