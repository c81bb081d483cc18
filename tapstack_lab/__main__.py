"""``python -m tapstack_lab``: the demo (``make demo``)."""

import sys

from tapstack_lab.demo import main

sys.exit(main())
