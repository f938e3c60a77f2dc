"""``python -m stream_app`` is the ``predelinq`` command."""

import sys

from stream_app.cli.main import main

sys.exit(main())
