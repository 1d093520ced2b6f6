"""One browser's session: its state, uploads, results, sizing and messages."""
