"""Getting mail out: composing, the persistent outbox and the SMTP sender."""
