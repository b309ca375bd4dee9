"""Tamper-evidence commands: `checkpoint`, `keygen`, `prove`, `verify`.

They only read the store. `verify` exits 0 when every check holds, 1 when tampering is found
(naming the first bad position), 2 on usage or store errors; it must never "repair" anything.
"""


from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ledger.cli.app import app, console, emit_json, state, wants_json
from ledger.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from ledger.adapters.store import EventStore
    from ledger.integrity import Checkpoint
    from ledger.integrity.verify import VerificationReport

EXIT_TAMPERED = 1
# A checkpoint of 1M events with chunk roots is ~70 kB; anything far larger is not one.
_MAX_CHECKPOINT_BYTES = 16 * 1024 * 1024


def _open_store() -> EventStore:
    from ledger.adapters.store import EventStore  # start-up: each command loads what it uses

    return EventStore(state.db)


def _read_checkpoint(path: Path) -> Checkpoint:
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


@app.command("keygen")
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
        f"{payload['public_key']} (give it to verifiers); key id {payload['key_id']}",
        highlight=False, markup=False,
    )


@app.command("checkpoint")
def checkpoint(
    sign: Path = typer.Option(None, "--sign", help="Ed25519 private key (PEM) to sign with."),
    out: Path = typer.Option(None, "--out", help="Also write the checkpoint to this file."),
    manifest: Path = typer.Option(
        None, "--manifest", help="Also write the leaf-hash manifest (32 bytes per event) here."
    ),
) -> None:
    """Print a checkpoint of the whole log as JSON (tree size, root hash, time, chunk roots)."""
    from ledger.adapters.integrity_store import checkpoint_store
    from ledger.integrity import load_signing_key, write_leaf_manifest

    key = load_signing_key(sign) if sign is not None else None
    store = _open_store()
    try:
        cp, leaves = checkpoint_store(store, key, keep_leaf_hashes=manifest is not None)
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


@app.command("prove")
def prove(
    position: int = typer.Argument(..., help="Log position of the event to prove."),
    checkpoint_file: Path = typer.Option(
        None, "--checkpoint", help="Prove inclusion in this checkpoint's tree (default: the whole log)."
    ),
    public_key: Path = typer.Option(None, "--public-key", help="Require the checkpoint to be signed by this key."),
) -> None:
    """Print an inclusion proof (JSON) for the event at POSITION, verified against the root."""
    from ledger.adapters.integrity_store import prove_store
    from ledger.integrity import load_public_key, verify_checkpoint_signature

    if position < 1:
        raise ValidationError("POSITION must be a positive log position")
    cp = _read_checkpoint(checkpoint_file) if checkpoint_file is not None else None
    signature_ok: bool | None = None
    if public_key is not None:
        if cp is None:
            raise ValidationError("--public-key needs --checkpoint")
        signature_ok = verify_checkpoint_signature(cp, load_public_key(public_key))
    store = _open_store()
    try:
        proof, verified = prove_store(store, position, cp)
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


@app.command("verify")
def verify(
    checkpoint_files: list[Path] = typer.Option(
        None, "--checkpoint", help="A checkpoint to check the log against (repeatable)."
    ),
    public_key: Path = typer.Option(
        None, "--public-key", help="Every checkpoint must be signed by this Ed25519 key."
    ),
    manifest: Path = typer.Option(
        None, "--manifest", help="Leaf-hash manifest saved with a checkpoint (names the exact event)."
    ),
    json_output: bool = typer.Option(False, "--json"),
) -> None:
    """Recompute the Merkle tree from the stored events and check every checkpoint and the
    consistency between successive ones. Exit 0: all hold; 1: tampering found; 2: error."""
    from ledger.adapters.integrity_store import verify_store
    from ledger.integrity import load_public_key, read_leaf_manifest

    checkpoints = [_read_checkpoint(p) for p in checkpoint_files or []]
    key = load_public_key(public_key) if public_key is not None else None
    leaves = read_leaf_manifest(manifest) if manifest is not None else None
    store = _open_store()
    try:
        report = verify_store(store, checkpoints, key, leaf_manifest=leaves)
    finally:
        store.close()
    if wants_json(json_output):
        emit_json(_report_dict(report))
    elif report.ok:
        console.print(
            f"ok: {report.tree_size} events (last position {report.last_position}), root "
            f"{report.root_hash}; {len(checkpoints)} checkpoint(s) and "
            f"{len(report.consistency)} consistency proof(s) hold",
            highlight=False, markup=False,
        )
    else:
        typer.echo(f"TAMPERED: {_where(report)}: {report.reason}")
    if not report.ok:
        raise typer.Exit(EXIT_TAMPERED)


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


def _report_dict(report: VerificationReport) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(asdict(report), default=list))
    return data
