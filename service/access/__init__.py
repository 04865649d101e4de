"""API tokens: who may call the API."""
