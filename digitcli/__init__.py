"""digitcli: read handwritten digits from the command line."""

import os

# Inference multiplies small matrices (64 images at a time) while worker processes decode
# pictures; OpenBLAS's default of one thread per core makes them fight over the cores and slows
# the forward pass about 100-fold here. Set before NumPy is imported; users can still override it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
