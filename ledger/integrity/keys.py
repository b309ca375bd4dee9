"""Ed25519 keys for signing checkpoints: generation (never overwriting a key), loading, ids.

Pure apart from the key files it is told to read or write; it must never read the event store,
a clock or a logger. The private key is unencrypted PKCS#8 PEM (mode 0600), its public key
SubjectPublicKeyInfo PEM at `path + ".pub"`; `key_id` is the first 16 hex digits of SHA-256
over the raw 32-byte public key (a hint for choosing the key, not a proof).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import EntityAlreadyExistsError, NotFoundError, ValidationError

__all__ = ["generate_signing_key", "key_id", "load_public_key", "load_signing_key", "public_key_path"]


def public_key_path(private_key_path: str | os.PathLike[str]) -> Path:
    """Where the public key of the private key at `private_key_path` is kept: `<path>.pub`."""
    path = Path(private_key_path)
    return path.with_name(path.name + ".pub")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise EntityAlreadyExistsError(f"{path} already exists; not overwriting a key") from None
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def generate_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """Create an Ed25519 key: private PKCS#8 PEM at `path` (0600), public PEM at `path.pub`."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pub_path = public_key_path(path)
    if pub_path.exists():
        raise EntityAlreadyExistsError(f"{pub_path} already exists; not overwriting a key")
    _write_new(Path(path), private_pem, 0o600)
    _write_new(pub_path, public_pem, 0o644)
    return key


def _read(path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"key file {path} does not exist") from None
    except OSError as exc:
        raise ValidationError(f"key file {path} cannot be read: {exc.strerror}") from None


def load_signing_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key stored (PKCS#8 PEM, unencrypted) at `path`."""
    try:
        key = serialization.load_pem_private_key(_read(path), password=None)
    except (ValueError, TypeError):
        raise ValidationError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationError(f"{path} holds a private key that is not Ed25519")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key at `path`: a public PEM, or derived from a private PEM."""
    data = _read(path)
    if b"PRIVATE KEY" in data:
        return load_signing_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise ValidationError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValidationError(f"{path} holds a public key that is not Ed25519")
    return key


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
