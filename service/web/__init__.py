"""The "Your Account" web app: server-rendered pages over the same use cases as the API."""
