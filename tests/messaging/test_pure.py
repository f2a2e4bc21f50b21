"""The pure parts: keywords (every default in both languages, folded), signatures (Twilio's
published vectors, Meta's HMAC), the order of delivery states, payload parsing."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avisa.config import load_settings
from avisa.errors import ConfigError
from avisa.messaging.keywords import Intent, Keywords, fold
from avisa.messaging.payloads import PayloadError, meta_events, twilio_inbound
from avisa.messaging.signatures import (
    meta_signature,
    meta_valid,
    token_matches,
    twilio_signature,
    twilio_valid,
)
from avisa.messaging.states import DeliveryState, advances, best, state_of

KEYWORDS = Keywords.defaults()


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Every default keyword, as written, in lower case, and with spaces around it.
        *[(w, Intent.confirm) for w in ("C", "SI", "SÍ", "CONFIRMAR", "YES", "1")],
        *[(w, Intent.cancel) for w in ("NO", "CANCELAR", "CANCEL", "2")],
        *[(w, Intent.stop) for w in ("STOP", "BAJA", "UNSUBSCRIBE")],
        ("c", Intent.confirm),
        ("  sí  ", Intent.confirm),
        ("si", Intent.confirm),
        ("Sí", Intent.confirm),
        ("¡SÍ!", Intent.confirm),
        ("confirmar.", Intent.confirm),
        ("Yes", Intent.confirm),
        ("\t1\n", Intent.confirm),
        ("no", Intent.cancel),
        (" Cancelar ", Intent.cancel),
        ("cancel!", Intent.cancel),
        ("stop", Intent.stop),
        ("Baja", Intent.stop),
        (" unsubscribe ", Intent.stop),
        # Not guessed at: sentences, other words, nothing.
        ("no sé si podré", Intent.unknown),
        ("sí, gracias", Intent.unknown),
        ("maybe", Intent.unknown),
        ("3", Intent.unknown),
        ("", Intent.unknown),
        ("   ", Intent.unknown),
    ],
)
def test_default_keywords(text: str, intent: Intent) -> None:
    assert KEYWORDS.classify(text) is intent


ALL = [
    *[(w, Intent.confirm) for w in ("C", "SI", "SÍ", "CONFIRMAR", "YES", "1")],
    *[(w, Intent.cancel) for w in ("NO", "CANCELAR", "CANCEL", "2")],
    *[(w, Intent.stop) for w in ("STOP", "BAJA", "UNSUBSCRIBE")],
]


@given(
    st.sampled_from(ALL),
    st.lists(st.booleans(), min_size=12, max_size=12),
    st.text(" \t\n", max_size=3),
    st.text(" \t\n!.¡¿", max_size=3),
)
def test_any_casing_and_surrounding_space_keeps_the_meaning(
    case: tuple[str, Intent], upper: list[bool], before: str, after: str
) -> None:
    word, intent = case
    mixed = "".join(c.upper() if u else c.lower() for c, u in zip(word, upper, strict=False))
    assert KEYWORDS.classify(before + mixed + after) is intent


def test_folding_removes_accents_case_spaces_and_edge_punctuation() -> None:
    assert fold("  ¡Sí,   CONFÍRMO!  ") == "si, confirmo"
    assert fold("Ñ") == "n"


def test_keywords_are_configuration() -> None:
    """Settings replace the lists; a word in two lists is refused naming both."""
    settings = load_settings(_env_file=None, confirm_keywords="ok, vale", stop_keywords="fin")
    custom = Keywords.of(
        settings.confirm_keywords, settings.cancel_keywords, settings.stop_keywords
    )
    assert custom.classify(" VALE ") is Intent.confirm
    assert custom.classify("C") is Intent.unknown
    assert custom.classify("fin") is Intent.stop
    with pytest.raises(ConfigError, match="both a confirm and a cancel keyword"):
        load_settings(_env_file=None, cancel_keywords="NO,sí")
    with pytest.raises(ConfigError, match="AVISA_STOP_KEYWORDS"):
        load_settings(_env_file=None, stop_keywords=" , ")


def test_twilio_signature_matches_twilios_published_examples() -> None:
    """The vectors of Twilio's documentation and of its Python library's tests."""
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+12349013030",
        "Digits": "1234",
        "From": "+12349013030",
        "To": "+18005551212",
    }
    assert twilio_signature(url, params.items(), "12345") == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    other = {**params, "Caller": "+14158675309", "From": "+14158675309"}
    assert twilio_signature(url, other.items(), "12345") == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    assert twilio_valid("RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, other.items(), "12345")
    assert not twilio_valid("RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, other.items(), "54321")
    assert not twilio_valid(None, url, other.items(), "12345")
    tampered = {**other, "Digits": "9999"}
    assert not twilio_valid("RSOYDt4T1cUTdK1PDd93/VVr8B8=", url, tampered.items(), "12345")


def test_meta_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"object":"whatsapp_business_account"}'
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert meta_signature(body, "s3cret") == expected
    assert meta_valid(expected, body, "s3cret")
    assert meta_valid(expected.upper().replace("SHA256=", "sha256="), body, "s3cret")
    assert not meta_valid(expected, body + b" ", "s3cret")
    assert not meta_valid("sha1=abc", body, "s3cret")
    assert not meta_valid(None, body, "s3cret")
    assert token_matches("abc", "abc")
    assert not token_matches("abd", "abc")
    assert not token_matches(None, "abc")


@pytest.mark.parametrize(
    ("current", "new", "moves"),
    [
        (None, DeliveryState.sent, True),
        (DeliveryState.sent, DeliveryState.delivered, True),
        (DeliveryState.delivered, DeliveryState.read, True),
        (DeliveryState.read, DeliveryState.delivered, False),
        (DeliveryState.delivered, DeliveryState.sent, False),
        (DeliveryState.delivered, DeliveryState.delivered, False),
        (DeliveryState.sent, DeliveryState.failed, True),
        # A receipt proves arrival: it beats a failure; a failure after it changes nothing.
        (DeliveryState.failed, DeliveryState.delivered, True),
        (DeliveryState.delivered, DeliveryState.failed, False),
        (DeliveryState.read, DeliveryState.failed, False),
        (None, DeliveryState.other, False),
    ],
)
def test_delivery_states_only_move_forward(
    current: DeliveryState | None, new: DeliveryState, moves: bool
) -> None:
    assert advances(current, new) is moves


def test_provider_words() -> None:
    assert state_of("twilio", "undelivered") is DeliveryState.failed
    assert state_of("twilio", "Delivered") is DeliveryState.delivered
    assert state_of("twilio", "queued") is DeliveryState.queued
    assert state_of("twilio", "receiving") is DeliveryState.other
    assert state_of("meta", "read") is DeliveryState.read
    assert best([DeliveryState.read, DeliveryState.sent, DeliveryState.failed]) is (
        DeliveryState.read
    )
    assert best([DeliveryState.other]) is None


def test_payloads() -> None:
    message = twilio_inbound(
        {"MessageSid": "SM1", "From": "whatsapp:+34600123456", "To": "whatsapp:+1555", "Body": "C"}
    )
    assert (message.channel, message.from_number, message.to_number) == (
        "whatsapp",
        "+34600123456",
        "+1555",
    )
    receipts, messages = meta_events(
        {
            "entry": [
                {
                    "changes": [
                        {
                            "value": {
                                "metadata": {"display_phone_number": "15550001111"},
                                "statuses": [
                                    {
                                        "id": "wamid.A",
                                        "status": "failed",
                                        "timestamp": "1772442000",
                                        "errors": [{"code": 131026, "title": "Undeliverable"}],
                                    }
                                ],
                                "messages": [
                                    {"id": "wamid.B", "from": "34600123456", "type": "image"},
                                    {
                                        "id": "wamid.C",
                                        "from": "34600123456",
                                        "type": "button",
                                        "button": {"text": "Confirmar"},
                                    },
                                ],
                            }
                        }
                    ]
                }
            ]
        }
    )
    [receipt] = receipts
    assert (receipt.error_code, receipt.error_message) == ("131026", "Undeliverable")
    assert receipt.provider_timestamp == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert [(m.from_number, m.to_number, m.body) for m in messages] == [
        ("+34600123456", "+15550001111", "[image]"),
        ("+34600123456", "+15550001111", "Confirmar"),
    ]
    with pytest.raises(PayloadError):
        meta_events([])
    with pytest.raises(PayloadError):
        twilio_inbound({"From": "+34600123456"})
