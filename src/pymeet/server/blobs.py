"""Shared files' contents on disk, stored once by SHA-256 under ``<data dir>/files``.

An upload streams into a private temporary file while it is hashed; only a complete,
synced upload is moved into place (an interrupted one leaves nothing behind).
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024


class UploadTooLarge(Exception):
    """The body passed the size limit; nothing was kept."""


class PendingUpload:
    """A temporary file being written and hashed. Blocking: run it in a thread."""

    def __init__(self, directory: Path, limit: int) -> None:
        self.path = directory / f"{secrets.token_hex(16)}.part"
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise UploadTooLarge(f"over the limit of {self.limit} bytes")
        self._hash.update(chunk)
        view = memoryview(chunk)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def finish(self) -> str:
        """Sync and close; returns the content's sha256 (hex)."""
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = -1
        return self._hash.hexdigest()

    def discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.path.unlink(missing_ok=True)


class BlobStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "files"
        self.incoming = self.root / "incoming"
        self.incoming.mkdir(parents=True, exist_ok=True, mode=0o700)
        for leftover in self.incoming.glob("*.part"):  # from a crash mid-upload
            leftover.unlink(missing_ok=True)

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def begin(self, limit: int) -> PendingUpload:
        return PendingUpload(self.incoming, limit)

    def commit(self, upload: PendingUpload, sha256: str) -> Path:
        """Move a finished upload into place (or drop it if the content is stored)."""
        target = self.path_for(sha256)
        target.parent.mkdir(exist_ok=True, mode=0o700)
        if target.exists():
            upload.path.unlink(missing_ok=True)
        else:
            os.replace(upload.path, target)
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        return target

    def remove(self, hashes: list[str]) -> None:
        for sha256 in hashes:
            self.path_for(sha256).unlink(missing_ok=True)
            log.info("removed stored file %s…", sha256[:12])
