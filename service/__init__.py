"""The application: use cases, the CLI, and the wiring of ports to adapters."""
