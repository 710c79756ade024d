"""`python -m maild` is the `maild` command."""

import sys

from maild.cli import main

if __name__ == "__main__":  # parser workers import this module under another name
    sys.exit(main())
