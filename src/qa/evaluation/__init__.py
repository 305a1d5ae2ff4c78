"""Evaluating answers: question files (``inputs``), scoring one answer (``scoring``), running a set
(``run``), metrics (``metrics``), thresholds (``gate``), comparing runs (``baseline``), reports (``reports``:
markdown and JUnit; ``html_report`` with ``svg`` plots) and the ``qa eval`` command (``command``).

Import from the modules; this package stays light (``qa --help`` and the pytest plugin load it)."""
