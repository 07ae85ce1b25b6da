"""Script entry for bundlers (PyInstaller runs a file, not a package): `python app/launcher.py`."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
