import sys

from fastbp.cli import main

sys.exit(main())
