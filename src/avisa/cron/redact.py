"""Secrets in HTTP jobs: resolve `{{secret:NAME}}` at run time, scrub them from every text.

A resolved value exists only in memory for the length of one request. Anything the runner
keeps or logs (an excerpt of the answer, an error message) first goes through a `Redactor`
that knows the values resolved for this run and also masks what merely looks secret
(bearer tokens, JWTs, `password=…` pairs, long random strings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import quote

from avisa.cron.commands import SECRET_REF

#: Looks a secret up by name: returns its value, raises NotFoundError when there is no such
#: secret and VaultSealedError when the vault cannot decrypt.
SecretLookup = Callable[[str], str]

REDACTED = "[redacted]"
EXCERPT_LIMIT = 200
#: Values shorter than this are not scrubbed one by one: replacing "a" everywhere would
#: garble the text and protect nothing. The pattern rules still apply.
_MIN_SCRUB_LENGTH = 4

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*)?"), REDACTED),
    (
        re.compile(
            r"(?i)([\"']?[a-z_-]*(?:password|passwd|secret|token|api[_-]?key|apikey|"
            r"authorization|credential|signature)[a-z_-]*[\"']?\s*[:=]\s*)"
            # Not again what the first rule already masked ("Bearer [redacted]").
            r"(?!\[redacted\]|(?:bearer|basic|token)\s)"
            r"(\"[^\"]*\"|'[^']*'|[^\s,;&}\]]+)"
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(r"[A-Za-z0-9+/_=-]{40,}"), REDACTED),
)


class Redactor:
    """Masks known secret values and secret-looking text."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        self._values: list[str] = []
        for value in values:
            self.add(value)

    def __repr__(self) -> str:
        return f"Redactor({len(self._values)} values)"

    def add(self, value: str) -> None:
        """Remember `value` (and its URL-encoded form) as something to scrub."""
        for form in (value, quote(value, safe="")):
            if len(form) >= _MIN_SCRUB_LENGTH and form not in self._values:
                self._values.append(form)
        # Longest first, so that a value containing another is scrubbed whole.
        self._values.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        """`text` with every known value and every secret-looking part replaced."""
        for value in self._values:
            text = text.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def excerpt(self, body: str, limit: int = EXCERPT_LIMIT) -> str:
        """A short, one-line, scrubbed excerpt of an answer body."""
        # Scrub before cutting: a cut could leave half a secret that no longer matches.
        text = self.scrub(" ".join(body.split()))
        if len(text) > limit:
            text = text[: limit - 1] + "…"
        return text


def resolve(text: str, lookup: SecretLookup, redactor: Redactor) -> str:
    """Replace each `{{secret:NAME}}` in `text` with its value, registering it to scrub.

    Raises what `lookup` raises (NotFoundError for a missing secret, VaultSealedError).
    """

    def value_of(match: re.Match[str]) -> str:
        value = lookup(match.group(1))
        redactor.add(value)
        return value

    return SECRET_REF.sub(value_of, text)
