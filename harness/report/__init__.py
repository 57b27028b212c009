"""Tables, figures and the dashboard built from the grid's per-cell run records.

The workflow (``Snakefile``) calls these through ``jitq report aggregate|figure|dashboard``; each step
reads files and writes files, so every step can be rerun by hand. ``aggregate`` turns the ``jitq run``
JSON records into the tidy grid table, ``figures`` draws from that table, ``dashboard`` assembles one
self-contained HTML page.
"""
