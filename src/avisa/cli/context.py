"""What every command starts with: settings, logging and the shared services."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from avisa.config import Settings, load_settings
from avisa.logging import configure_logging
from avisa.services import Services, build_services


def settings_for_command() -> Settings:
    """Load settings (one-line `ConfigError` if invalid) and configure logging from them."""
    settings = load_settings()
    configure_logging(settings.log_format, settings.log_level)
    return settings


@contextmanager
def command_services() -> Iterator[Services]:
    """Services for one command, disposed of when it ends."""
    services = build_services(settings_for_command())
    try:
        yield services
    finally:
        services.close()
