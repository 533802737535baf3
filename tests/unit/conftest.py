"""Make the collection importable as ansible_collections.ops535.mail_security.

The repository root is the collection; unit tests import it through a symlink
tree under build/collections (the same tree the Makefile gives Ansible).
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO_ROOT / "build" / "collections"
LINK = COLLECTIONS_ROOT / "ansible_collections" / "ops535" / "mail_security"


def _ensure_collection_link():
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(REPO_ROOT, LINK)
        except FileExistsError:
            pass
    if str(COLLECTIONS_ROOT) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_ROOT))


_ensure_collection_link()
