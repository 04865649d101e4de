"""E-invoices: the EN 16931 CII XML of an invoice document, the Factur-X PDF/A-3 that
carries it, and offline validation against the official rules (ADR 16)."""
