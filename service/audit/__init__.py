"""The tamper-evident history: verifying the hash chain, signed digests, exports and replays."""
