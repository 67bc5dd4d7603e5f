"""The instance folder (instance/ beside app.py): private to us, with the generated secret key.

The folder is 0700 and the key file 0600 whatever the umask; both are made by create_app().
"""

from __future__ import annotations

import os
import secrets
import tempfile

from models import private_files


def private_dir(path: str) -> None:
    """Create the instance folder 0700, and tighten an older one we own, whatever the umask."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    private_files(path, mode=0o700)


def load_or_create_secret(instance_path: str) -> str:
    """The instance's secret key: generated once (mode 0600) and shared by every worker."""
    path = os.path.join(instance_path, "secret_key")
    if not os.path.exists(path):
        # Written whole to a private temp file, then linked into place: workers starting
        # together never read a half-written key, and the first link wins for all of them.
        fd, tmp = tempfile.mkstemp(dir=instance_path, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(secrets.token_hex(32))
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    with open(path, encoding="ascii") as f:
        return f.read().strip()
