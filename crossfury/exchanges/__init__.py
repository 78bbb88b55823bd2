# SPDX-License-Identifier: MIT
"""One subpackage per exchange: declarative specs and the few functions that truly differ."""
