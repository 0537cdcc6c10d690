"""``python -m qualisys_infra``: the same as the ``qualisys-infra`` command."""

import sys

from qualisys_infra.app.cli import main

sys.exit(main())
