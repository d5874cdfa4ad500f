"""The built-in assertions, registered with ``@assertion`` exactly as a team's own are.

Each module keeps heavy imports (sentence-transformers, deepeval, the guard) inside its
functions, so a suite of deterministic checks starts in well under a second.
"""
