"""Errors that carry meaning to a person.

Every error avisa shows a user derives from `AvisaError`: its `str()` is one clear line,
free of secrets, with the fix when there is one. Entry points print it and exit 1; the HTTP
layer turns it into a JSON body. Anything else reaching an entry point is a bug and is
reported as such, without a traceback unless `--debug` is given.
"""

from __future__ import annotations


class AvisaError(Exception):
    """Base of every user-facing error. `str(err)` is the one line shown to a person."""

    #: HTTP status the API answers with when this error reaches it.
    http_status: int = 400

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(message)

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message} (fix: {self.fix})"
        return self.message


class ConfigError(AvisaError):
    """A configuration variable has an invalid value."""


class NotFoundError(AvisaError):
    """A named thing (secret, job, function, appointment) does not exist."""

    http_status = 404


class ConflictError(AvisaError):
    """The request conflicts with the current state (a version check failed, a duplicate)."""

    http_status = 409


class DatabaseError(AvisaError):
    """The database is unreachable or not migrated."""

    http_status = 503


class VaultSealedError(AvisaError):
    """The vault's root key is missing, unreadable or wrong: no secret can be read or written.

    The message names the key source that was tried and how to fix it.
    """

    http_status = 503


class AuthError(AvisaError):
    """A bearer token is missing, malformed, badly signed or expired (HTTP 401)."""

    http_status = 401


class ForbiddenError(AvisaError):
    """A valid token whose role may not do this (HTTP 403)."""

    http_status = 403
