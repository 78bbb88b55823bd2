# SPDX-License-Identifier: MIT
# The native router hook of FrameListener (frames.pyx); route.pyx implements it for depth frames.
from libc.stdint cimport int64_t


cdef class FrameRouter:
    # 1: the router took the whole text frame; 0: the Python path gets it. Bytes are valid during the call only.
    cdef int route(self, const char *payload, Py_ssize_t size, int64_t local_ts) except -1
