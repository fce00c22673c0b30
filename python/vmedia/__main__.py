"""`python -m vmedia` is the `vmedia` command."""

import sys

from vmedia.cli import main

sys.exit(main())
