"""Password hashing with PBKDF2-HMAC-SHA256 and a per-hash random salt.

A stored hash reads ``pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>``, so a change of
the iteration count leaves older hashes verifiable. Hashing runs in worker threads
(hashlib releases the GIL), at most `MAX_CONCURRENT_HASHES` at once so logins can never
starve the event loop's own CPU share.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os

SCHEME = "pbkdf2_sha256"
SALT_BYTES = 16
MAX_CONCURRENT_HASHES = 2


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password_sync(password: str, iterations: int, salt: bytes | None = None) -> str:
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"{SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def verify_password_sync(password: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored hash never matches."""
    try:
        scheme, iterations_text, salt_text, digest_text = stored.split("$")
        if scheme != SCHEME:
            return False
        salt = base64.b64decode(salt_text, validate=True)
        expected = base64.b64decode(digest_text, validate=True)
        iterations = int(iterations_text)
    except ValueError:
        return False
    actual = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(actual, expected)


class PasswordHasher:
    """Async hashing off the event loop, bounded in concurrency."""

    def __init__(self, iterations: int) -> None:
        self.iterations = iterations
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_HASHES)
        # Verifying against this when a user does not exist costs the same as a real
        # check, so response time does not reveal which usernames exist.
        self._decoy = hash_password_sync("decoy password", iterations)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(hash_password_sync, password, self.iterations)

    async def verify(self, password: str, stored: str | None) -> bool:
        async with self._slots:
            ok = await asyncio.to_thread(
                verify_password_sync, password, stored if stored is not None else self._decoy
            )
        return ok and stored is not None
