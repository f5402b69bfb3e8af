"""Runnable examples of the lessons, one module per lesson.

Each module is cut into named sections (``# --8<-- [start:name]`` ... ``[end:name]``).
A lesson page includes a section's code and shows the trace it prints; each section
is self-contained, so it runs on its own when pasted into ``python``. Run a whole
lesson with ``python -m transformer_primer.lessons.<module>``.
"""
