"""Helper library for the course "Image classification, pixels to production".

Notebooks import the modules they need, one style everywhere::

    from course_lib import data, plots, checks

Importing ``course_lib`` itself is cheap: TensorFlow is imported only by the
modules that need it, when they are first used.

The maintainers' tooling (the ``course`` command, the lesson runner and its report, the
grader, the notebook builder, the set-up doctor) is in :mod:`course_lib.tools`, which no
lesson imports.
"""

__version__ = "0.1.0"

from course_lib.allocator import use_lean_allocator as _use_lean_allocator

# Every lesson's kernel, and every process a lesson starts, hands freed memory back to the
# system sooner (see course_lib.allocator): the course runs in 2 GB pods.
_use_lean_allocator()
