"""The `anonymize` command line: arguments in, library call, files out."""
