"""`python -m maild` is the `maild` command."""

from maild.cli import entry

if __name__ == "__main__":  # importing this module must not run the command line
    entry()
