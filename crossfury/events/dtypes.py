# SPDX-License-Identifier: MIT
"""numpy dtypes that mirror C structs, defined once here."""

import numpy as np

#: One book level in exact integers: mirrors ``cf_level`` in csrc/book/book.h (price ticks, quantity lots).
LEVEL_DTYPE = np.dtype([("px", "<i8"), ("qty", "<i8")], align=True)
