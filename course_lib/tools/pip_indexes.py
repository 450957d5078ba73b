"""The package indexes pip is configured with, as options for uv.

uv installs the lock in seconds where pip takes minutes, but it does not read pip's
configuration files (``pip.conf``, ``PIP_*`` variables). This machine's mirror, a
company's index or a folder of wheels are set there, so ``make setup`` asks pip for them
and hands them on. Standard library only: it runs before the course's dependencies are
installed, as ``python course_lib/tools/pip_indexes.py`` (one option or value per line).
"""

from __future__ import annotations

import re
import subprocess
import sys

# pip's setting -> uv's option for it
_OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
}


def uv_index_options(pip_config_list: str) -> list[str]:
    """uv options for the indexes and wheel folders in ``pip config list``'s output."""
    options: list[str] = []
    for key, value in re.findall(r"^\S*?\.?([a-z-]+)='(.*)'$", pip_config_list, re.MULTILINE):
        flag = _OPTIONS.get(key)
        for item in value.split() if flag else []:
            pair = [flag, item]
            # the same setting may come from a file and from a variable: give it once
            if not any(options[i : i + 2] == pair for i in range(0, len(options), 2)):
                options += pair
    return options


def configured_uv_index_options(python: str = sys.executable) -> list[str]:
    """:func:`uv_index_options` for the pip of ``python``."""
    listed = subprocess.run(
        [python, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    return uv_index_options(listed)


if __name__ == "__main__":
    print("\n".join(configured_uv_index_options()))
