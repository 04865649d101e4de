"""Reading ``/metrics`` in tests: the exposition parsed by prometheus-client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def metric(text: str, name: str, **labels: str) -> float:
    """The value of the one sample ``name`` with exactly these labels (KeyError if none)."""
    found = [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and sample.labels == labels
    ]
    if len(found) != 1:
        raise KeyError(f"{len(found)} samples {name}{labels}")
    return found[0]
