"""Getting mail in: IMAP, the LMTP/SMTP listener, parsing and loop filters."""
