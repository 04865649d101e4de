"""The broker relay: the public events, in order, into NATS JetStream."""
