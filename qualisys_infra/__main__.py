"""``python -m qualisys_infra``: the same as the ``qualisys-infra`` command."""

import sys

from qualisys_infra.commands.cli import main

sys.exit(main())
