"""`python -m infra.local` (what `make run` calls): start the local stack in the foreground."""

import logging
import os
import sys

from infra.local.stack import main

code = main()
# The stack is stopped and its state is the emulator's memory, which nobody reads again. Leave
# without the interpreter's final garbage collection: after a 1,000,000-row file the emulator holds
# gigabytes of objects, and collecting them before exit took minutes at full CPU after "stopped".
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
