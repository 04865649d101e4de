"""Webhooks: endpoints, their signed deliveries and the worker that sends them."""
