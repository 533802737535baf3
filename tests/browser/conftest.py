"""The browser tests import the collection as the unit tests do (see tests/unit/conftest.py),
and the sample class report of the unit tests (tests/unit/plugins/plugin_utils/report_samples.py)."""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_ROOT = REPO_ROOT / "build" / "collections"
LINK = COLLECTIONS_ROOT / "ansible_collections" / "ops535" / "mail_security"

if not LINK.exists():
    LINK.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(REPO_ROOT, LINK)
    except FileExistsError:
        pass
for path in (COLLECTIONS_ROOT, REPO_ROOT / "tests" / "unit" / "plugins" / "plugin_utils"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
