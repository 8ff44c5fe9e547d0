"""Vendor the portal's script libraries from the npm registry into the package.

    python tools/portal_assets.py           npm ci in portal-assets/, then copy the files below
    python tools/portal_assets.py --check   the same, failing when a vendored copy differs

The versions are pinned in portal-assets/package.json (and package-lock.json). The copies are
committed under src/batchite/portal/static/vendor/, so the wheel ships them and the portal needs no
network or npm at run time; the check (run by scripts/test) proves they are the registry's files.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "portal-assets"
VENDOR = ROOT / "src" / "batchite" / "portal" / "static" / "vendor"
FILES = {
    "htmx.min.js": "node_modules/htmx.org/dist/htmx.min.js",
    "htmx-sse.min.js": "node_modules/htmx-ext-sse/dist/sse.min.js",
    "htmx.LICENSE.txt": "node_modules/htmx.org/LICENSE",
}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    subprocess.run(["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--silent"], cwd=ASSETS, check=True)
    stale = []
    VENDOR.mkdir(parents=True, exist_ok=True)
    for name, source in FILES.items():
        src, dst = ASSETS / source, VENDOR / name
        if check:
            if not dst.exists() or dst.read_bytes() != src.read_bytes():
                stale.append(name)
        else:
            shutil.copyfile(src, dst)
    if stale:
        print(f"portal assets differ from the npm registry's: {', '.join(stale)}; run tools/portal_assets.py")
        return 1
    print("portal assets: " + ("the registry's" if check else "copied") + f" ({len(FILES)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
