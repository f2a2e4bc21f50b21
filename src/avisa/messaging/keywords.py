"""What a client's reply means: confirm, cancel, stop, or something we do not guess at.

A reply matches a keyword when the whole message, folded, equals the folded keyword.
Folding removes accents, case, surrounding spaces and surrounding punctuation and
collapses inner spaces, so "  sí ", "Si!", "¡SÍ!" and "si" are the same word. A message
that merely contains a keyword ("no sé si podré") is not a match: reading it as a
cancellation would be a guess, and a wrong cancellation costs a client their slot.

Pure: no database, no web.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

#: Characters stripped from both ends of a reply ("¡Sí!", "C.", "«NO»").
# Typographic quotes written as escapes: they look like ASCII quotes on screen.
_EDGE = string.punctuation + string.whitespace + "¡¿«»\u201c\u201d\u2018\u2019\u2026"

DEFAULT_CONFIRM = ("C", "SI", "SÍ", "CONFIRMAR", "YES", "1")
DEFAULT_CANCEL = ("NO", "CANCELAR", "CANCEL", "2")
DEFAULT_STOP = ("STOP", "BAJA", "UNSUBSCRIBE")


class Intent(StrEnum):
    confirm = "confirm"
    cancel = "cancel"
    stop = "stop"
    unknown = "unknown"


def fold(text: str) -> str:
    """`text` without accents, case, edge punctuation or repeated spaces.

    NFKD splits "Í" into "I" and a combining accent, which is dropped; `casefold` is the
    caseless form Unicode recommends for matching (it also folds "ß" to "ss").
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split()).strip(_EDGE)


@dataclass(frozen=True)
class Keywords:
    """The configured keywords per intent, folded. Build with `Keywords.of`."""

    confirm: frozenset[str]
    cancel: frozenset[str]
    stop: frozenset[str]

    @classmethod
    def of(cls, confirm: Iterable[str], cancel: Iterable[str], stop: Iterable[str]) -> Keywords:
        """Fold and check the three lists.

        Raises ValueError naming the keyword when one list is empty or folds to nothing,
        or when a keyword belongs to two intents (a reply must never mean two things).
        """
        lists = {"confirm": confirm, "cancel": cancel, "stop": stop}
        folded: dict[str, frozenset[str]] = {}
        owner: dict[str, str] = {}
        for intent, words in lists.items():
            found: set[str] = set()
            for word in words:
                key = fold(word)
                if not key:
                    raise ValueError(f"{word!r} is not a usable {intent} keyword")
                if owner.get(key, intent) != intent:
                    raise ValueError(f"{word!r} is both a {owner[key]} and a {intent} keyword")
                owner[key] = intent
                found.add(key)
            if not found:
                raise ValueError(f"needs at least one {intent} keyword")
            folded[intent] = frozenset(found)
        return cls(confirm=folded["confirm"], cancel=folded["cancel"], stop=folded["stop"])

    @classmethod
    def defaults(cls) -> Keywords:
        return cls.of(DEFAULT_CONFIRM, DEFAULT_CANCEL, DEFAULT_STOP)

    def classify(self, text: str) -> Intent:
        """The intent of a whole reply; `Intent.unknown` unless it is exactly a keyword."""
        key = fold(text)
        for intent, words in (
            (Intent.stop, self.stop),
            (Intent.cancel, self.cancel),
            (Intent.confirm, self.confirm),
        ):
            if key in words:
                return intent
        return Intent.unknown


def parse_keywords(text: str) -> tuple[str, ...]:
    """`C, SI ,SÍ` -> ("C", "SI", "SÍ"): the comma-separated spelling of the settings."""
    return tuple(part.strip() for part in text.split(",") if part.strip())
