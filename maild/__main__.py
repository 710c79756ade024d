"""`python -m maild` is the `maild` command."""

import sys

from maild.cli import main

if __name__ == "__main__":  # importing this module must not run the command line
    sys.exit(main())
