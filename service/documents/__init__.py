"""Invoice documents as the service renders them (PDF, the shared page)."""
