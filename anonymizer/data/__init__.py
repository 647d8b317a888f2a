"""The sample portrait used by `anonymize demo` (see SOURCE.txt)."""
