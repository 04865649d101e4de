"""What the background workers share: one worker per store, elected by a lock."""
