# SPDX-License-Identifier: MIT
"""The ``crossfury`` command."""
import argparse
import sys

import crossfury


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crossfury", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crossfury {crossfury.__version__}")
    parser.parse_args(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
