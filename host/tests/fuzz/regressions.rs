//! Inputs that once broke a reader, each a named test (found by the targets in this binary).
