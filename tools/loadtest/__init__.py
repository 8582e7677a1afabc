"""Load and faults for the transfers service: ``python -m tools.loadtest`` (see __main__).

The service's code root (``container_src/transfers``, ``/app`` in its image) goes on the
path here, so that the harness seeds and checks the ledger with the service's own code.
"""

import sys
from pathlib import Path

_TRANSFERS_SRC = str(Path(__file__).resolve().parents[2] / "container_src" / "transfers")
if _TRANSFERS_SRC not in sys.path:
    sys.path.insert(0, _TRANSFERS_SRC)
