"""``python -m deltafold``: the same command line as ``deltafold``."""

from ._cli import main

raise SystemExit(main())
