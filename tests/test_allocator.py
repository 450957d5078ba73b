"""course_lib.allocator: freed memory goes back to the system sooner once course_lib is imported."""

import ctypes
import platform
import subprocess
import sys

import pytest

from course_lib import allocator

GLIBC = platform.libc_ver()[0] == "glibc"

# Allocates a 16 MB block and frees it (glibc then raises its mmap threshold to 16 MB), then
# allocates 6 MB and prints how many bytes glibc serves from mmap (mallinfo2's hblkhd).
PROBE = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "import":
    import course_lib
big = bytearray(16 << 20)
del big
block = bytearray(6 << 20)
print(libc.mallinfo2().hblkhd)
"""


def mmapped_bytes_after_a_big_block_came_and_went(import_course_lib: bool) -> int:
    argv = [sys.executable, "-c", PROBE, "import" if import_course_lib else "plain"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(
    not GLIBC or not hasattr(ctypes.CDLL(None), "mallinfo2"), reason="glibc >= 2.33 only"
)
def test_importing_course_lib_keeps_multi_megabyte_blocks_out_of_the_heap():
    # glibc's default: after a 16 MB block is freed, 6 MB come from the heap, where a block
    # still in use can keep freed memory from going back to the system
    assert mmapped_bytes_after_a_big_block_came_and_went(False) < 6 << 20
    # with course_lib imported the threshold stays at 4 MB: 6 MB are mapped, and unmapped
    # the moment they are freed
    assert mmapped_bytes_after_a_big_block_came_and_went(True) >= 6 << 20


def test_the_lean_allocator_and_the_release_are_made_wherever_glibc_is():
    assert allocator.use_lean_allocator() is GLIBC
    assert allocator.release_freed_memory() is GLIBC
