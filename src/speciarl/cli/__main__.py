"""`python -m speciarl.cli ...` (how tests and `accelerate launch -m` call the CLI)."""

import sys

from . import main

sys.exit(main())
