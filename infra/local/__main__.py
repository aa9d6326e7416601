"""`python -m infra.local` (what `make run` calls): start the local stack in the foreground."""

import sys

from infra.local.stack import main

sys.exit(main())
