"""``python -m iterative_reasoning.cli``, as ``torchrun -m`` runs it."""

import sys

from iterative_reasoning.cli import main

sys.exit(main())
