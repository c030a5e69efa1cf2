"""The committed contract files: ``services/openapi.json`` and ``docs/perception_message.schema.json``.

Regenerate after changing a route or the message: ``python -m services.perception.openapi``.
Tests fail when the committed files differ from what the code generates.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from services.perception.app import create_app
from services.perception.messages import message_schema

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_PATH = ROOT / "services" / "openapi.json"
SCHEMA_PATH = ROOT / "docs" / "perception_message.schema.json"


def openapi_text() -> str:
    return json.dumps(create_app().openapi(), indent=2, sort_keys=True) + "\n"


def schema_text() -> str:
    return json.dumps(message_schema(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    OPENAPI_PATH.write_text(openapi_text())
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {OPENAPI_PATH.relative_to(ROOT)} and {SCHEMA_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
