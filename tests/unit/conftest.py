"""Make the collection importable as ansible_collections.ops535.mail_security.

The repository root is the collection; unit tests import it through a symlink
tree under build/collections (the same tree the Makefile gives Ansible).

The helpers of the verify tests (verify_fixtures, report_samples in plugins/plugin_utils/) are
importable by name from every test folder.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO_ROOT / "build" / "collections"
LINK = COLLECTIONS_ROOT / "ansible_collections" / "ops535" / "mail_security"
VERIFY_HELPERS = Path(__file__).resolve().parent / "plugins" / "plugin_utils"


def _ensure_collection_link():
    if not LINK.exists():
        LINK.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.symlink(REPO_ROOT, LINK)
        except FileExistsError:
            pass
    for path in (COLLECTIONS_ROOT, VERIFY_HELPERS):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


_ensure_collection_link()
