"""maild: an email-driven support-ticket daemon."""

__version__ = "0.3.0"
