import sys

from tapstack.cli import main

sys.exit(main())
