"""The API's request and response bodies."""
