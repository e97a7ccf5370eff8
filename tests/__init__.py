"""voice-letta tests; a package so that ``tests.fakes`` imports from the repository root."""
