"""The ``subledger`` command line."""
