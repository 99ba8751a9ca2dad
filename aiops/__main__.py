"""``python -m aiops`` is the ``aiops`` command."""

from aiops.cli import main

main()
