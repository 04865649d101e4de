"""Personal data: erasure on request, by destroying a data subject's keys (ADR 0023)."""
