"""The folder the scheduler parses. A package, so that import-linter sees what its files import."""
