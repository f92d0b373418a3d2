"""The ``throttlesim`` command line: parsing, the commands, and the tables they print.

* :mod:`~simulator.cli.main`: the parser, ``run``, ``cost`` and ``check``, and the
  entry point group other packages add commands through;
* :mod:`~simulator.cli.args`: argument types and output checks every command shares;
* :mod:`~simulator.cli.capacity`: ``sweep``, ``plan`` and ``quota``;
* :mod:`~simulator.cli.cost`: ``cost``'s views (a run, a comparison, an analytic month);
* :mod:`~simulator.cli.report`: the tables of a run and of a validation.
"""

from __future__ import annotations

from simulator.cli.main import main

__all__ = ["main"]
