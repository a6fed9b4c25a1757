"""How a notice reaches people: exactly-once claims, attempts, SMTP or the Maildir outbox."""
