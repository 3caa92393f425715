"""HQ's console: server-rendered pages for reader tokens (docs/hq.md)."""
