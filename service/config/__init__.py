"""What the service is configured with: its settings, read from the environment."""
