"""The development payload key: generated once per data dir and kept there, so the workflows a stack wrote
stay readable when it restarts. Production keys come from IOT_BILLING_PAYLOAD_KEYS and are never made up."""

from __future__ import annotations

import os
from pathlib import Path

from infra.codec import new_payload_key

KEY_FILE = "payload-keys"
DEV_KEY_ID = "dev-1"


def dev_payload_keys(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Owner-only from the first byte: the key decrypts every payload of this stack.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    keys = new_payload_key(DEV_KEY_ID)
    with os.fdopen(descriptor, "w") as file:
        file.write(keys + "\n")
    return keys
