"""A separate process that reads secrets in a loop until a stop file appears.

Usage: python -m tests.support.vault_reader DATA_DIR DATABASE_URL STOP_FILE NAME=VALUE...
Touches STOP_FILE.ready after each round of reads. Prints one JSON line: how many
reads succeeded and the class of every failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from avisa.config import load_settings
from avisa.services import build_services


def main() -> None:
    data_dir, url, stop_file, *pairs = sys.argv[1:]
    expected = dict(pair.split("=", 1) for pair in pairs)
    settings = load_settings(_env_file=None, data_dir=Path(data_dir), database_url=url)
    services = build_services(settings)
    reads, failures = 0, []
    stop = Path(stop_file)
    ready = Path(stop_file + ".ready")
    while not stop.exists():
        for name, value in expected.items():
            try:
                got = services.vault.get_secret(name)
            except Exception as exc:
                failures.append(type(exc).__name__)
                sys.stderr.write(f"{exc}\n")
                continue
            if got != value:
                failures.append("WrongValue")
            reads += 1
        ready.touch()
    services.close()
    sys.stdout.write(json.dumps({"reads": reads, "failures": failures}) + "\n")


if __name__ == "__main__":
    main()
