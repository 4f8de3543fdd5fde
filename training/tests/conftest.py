"""Makes the `mmamba` package importable when pytest runs from training/."""
import os
import sys

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))
