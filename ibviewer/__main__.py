"""`python -m ibviewer` -> the command line."""

import sys

from ibviewer.cli import main

sys.exit(main())
