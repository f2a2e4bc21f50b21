"""Vault fixtures: an initialised installation's vault, with the CLI as its actor."""

from __future__ import annotations

import pytest

from avisa.services import Services
from avisa.vault.service import Vault


@pytest.fixture
def vault(services: Services) -> Vault:
    return services.vault.with_actor("cli")
