"""Privacy and data governance: PII detection and masking, keyed pseudonyms, consent, erasure."""
