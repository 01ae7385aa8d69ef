"""Shared test helpers: real databases, a real SMTP server, settings for tests."""
