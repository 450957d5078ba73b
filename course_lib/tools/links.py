"""Links to the course's home: Binder, Colab and the CI badge, from one setting.

``[tool.course] repository = "owner/name"`` in ``pyproject.toml`` is the only place the
GitHub repository is written. The student notebooks' Colab badge and set-up cell
(:mod:`course_lib.tools.notebooks`) and README's badges (``course badges``, run by
``make notebooks``) are made from it, so a fork changes one line and rebuilds.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BADGES_START = "<!-- badges: made by `make notebooks` from [tool.course] repository -->"
BADGES_END = "<!-- /badges -->"
COLAB_BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
BINDER_BADGE_SVG = "https://mybinder.org/badge_logo.svg"


def repository(pyproject: Path) -> str:
    """``owner/name`` from ``[tool.course] repository`` in ``pyproject``."""
    settings = tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))
    try:
        value = settings["tool"]["course"]["repository"]
    except KeyError:
        raise ValueError(f'{pyproject} has no [tool.course] repository = "owner/name"') from None
    if not isinstance(value, str) or not _REPOSITORY.match(value):
        raise ValueError(f'[tool.course] repository must look like "owner/name", not {value!r}')
    return value


def binder_url(repo: str, notebook: str = "01_pixels.ipynb") -> str:
    """Binder, opening ``notebooks/<notebook>`` in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{repo}/HEAD?urlpath=lab/tree/notebooks/{notebook}"


def colab_url(repo: str, notebook: str) -> str:
    """Colab, opening ``notebooks/<notebook>`` from the ``main`` branch on GitHub."""
    return f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{notebook}"


def actions_url(repo: str, workflow: str = "course.yml") -> str:
    return f"https://github.com/{repo}/actions/workflows/{workflow}"


def pip_url(repo: str) -> str:
    """What ``pip install`` takes to install the course package from GitHub."""
    return f"course-lib @ git+https://github.com/{repo}"


def colab_badge(repo: str, notebook: str) -> str:
    return f"[![Open In Colab]({COLAB_BADGE_SVG})]({colab_url(repo, notebook)})"


def readme_badges(repo: str) -> str:
    """README's badge block, markers included."""
    return "\n".join(
        [
            BADGES_START,
            f"[![Binder]({BINDER_BADGE_SVG})]({binder_url(repo)})",
            colab_badge(repo, "01_pixels.ipynb"),
            f"[![course]({actions_url(repo)}/badge.svg)]({actions_url(repo)})",
            BADGES_END,
        ]
    )


def update_readme(text: str, repo: str) -> str:
    """``text`` with its badge block (between the markers) made from ``repo``."""
    pattern = re.compile(re.escape(BADGES_START) + r".*?" + re.escape(BADGES_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(
            f"README has no badge block: add the lines {BADGES_START!r} and "
            f"{BADGES_END!r} where the badges go"
        )
    return pattern.sub(lambda _: readme_badges(repo), text, count=1)
