"""``python -m sdk_client``."""

import sys

from sdk_client.cli import main

sys.exit(main())
