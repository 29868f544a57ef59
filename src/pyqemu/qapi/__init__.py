"""QAPI: the schema of the QMP interface, argument checking against it, and its introspection."""
