"""The HTTP API (FastAPI): thin routes over the Ledger's use cases."""
