"""Share links: an invoice opened without logging in, and how often."""
