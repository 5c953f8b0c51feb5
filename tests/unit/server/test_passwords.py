from __future__ import annotations

from pymeet.server.passwords import PasswordHasher, hash_password_sync, verify_password_sync


def test_hash_is_salted_and_verifies() -> None:
    first = hash_password_sync("correct horse", 1000)
    second = hash_password_sync("correct horse", 1000)
    assert first != second
    assert first.startswith("pbkdf2_sha256$1000$")
    assert verify_password_sync("correct horse", first)
    assert not verify_password_sync("correct horsE", first)


def test_older_iteration_counts_stay_verifiable() -> None:
    stored = hash_password_sync("pässwörd ünïcode", 1200)
    assert verify_password_sync("pässwörd ünïcode", stored)


def test_malformed_stored_hashes_never_match() -> None:
    for stored in ["", "plain", "md5$1$a$b", "pbkdf2_sha256$x$y$z", "pbkdf2_sha256$10$!!$!!"]:
        assert not verify_password_sync("anything", stored)


async def test_async_hasher_and_missing_user() -> None:
    hasher = PasswordHasher(1000)
    stored = await hasher.hash("open sesame")
    assert await hasher.verify("open sesame", stored)
    assert not await hasher.verify("open sesame", None)
    assert not await hasher.verify("decoy password", None)
