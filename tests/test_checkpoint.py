"""The checkpoint format: safe loading, atomic replacement, and one clear error per kind of bad file."""
import os

import pytest
import torch

from seqgan import checkpoint
from seqgan.checkpoint import CheckpointError, load_module_state


def payload(**extra):
    return {"algorithm": "seqgan", "config": {"seed": 3, "dis_filter_sizes": [1, 2]},
            "progress": {"phase": 1, "step": 2}, "state": {"w": torch.arange(6.0).view(2, 3),
                                                           "rng": torch.Generator().manual_seed(1).get_state()},
            **extra}


def leftovers(folder, keep=("ck.pt",)):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


def test_round_trip_loads_with_weights_only(tmp_path, monkeypatch):
    seen = {}
    real_load = torch.load

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    path = checkpoint.save(tmp_path / "sub" / "ck.pt", payload(data_source="oracle x"))
    assert path == tmp_path / "sub" / "ck.pt"
    data = checkpoint.load(path, algorithm="seqgan")
    assert seen["weights_only"] is True
    assert data["format"] == checkpoint.FORMAT and data["version"] == checkpoint.VERSION
    assert data["config"] == {"seed": 3, "dis_filter_sizes": [1, 2]} and data["progress"] == {"phase": 1, "step": 2}
    assert torch.equal(data["state"]["w"], torch.arange(6.0).view(2, 3)) and data["data_source"] == "oracle x"
    assert torch.equal(data["state"]["rng"], torch.Generator().manual_seed(1).get_state())
    assert leftovers(tmp_path / "sub") == []


def test_file_gets_ordinary_permissions_not_mkstemp_0600(tmp_path):
    mask = os.umask(0o022)
    try:
        path = checkpoint.save(tmp_path / "ck.pt", payload())
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_replace_is_atomic_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "ck.pt"
    checkpoint.save(path, payload(note="old"))
    checkpoint.save(path, payload(note="new"))
    assert checkpoint.load(path)["note"] == "new"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_failed_save_keeps_old_file_and_removes_temp(tmp_path, monkeypatch, exc):
    path = tmp_path / "ck.pt"
    checkpoint.save(path, payload(note="old"))
    before = path.read_bytes()
    real_save = torch.save

    def half_then_fail(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)  # the temporary file is fully written...
        f.write(b"garbage")
        raise exc                           # ...and then the process "dies"

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(type(exc)):
        checkpoint.save(path, payload(note="new"))
    assert path.read_bytes() == before
    assert checkpoint.load(path)["note"] == "old"
    assert leftovers(tmp_path) == []


def test_payload_may_not_override_the_marker(tmp_path):
    with pytest.raises(ValueError, match="version"):
        checkpoint.save(tmp_path / "ck.pt", payload(version=7))
    assert not (tmp_path / "ck.pt").exists() and leftovers(tmp_path, keep=()) == []


def assert_clear(excinfo, path, *words):
    msg = str(excinfo.value)
    assert str(path) in msg, msg
    assert "\n" not in msg, msg
    for w in words:
        assert w in msg, msg


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(tmp_path / "nope.pt")
    assert_clear(e, tmp_path / "nope.pt", "not found")


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(tmp_path)
    assert_clear(e, tmp_path, "directory")


def test_truncated_file(tmp_path):
    path = checkpoint.save(tmp_path / "ck.pt", payload())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "corrupt")


def test_random_bytes(tmp_path):
    path = tmp_path / "ck.pt"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                         dtype=torch.uint8).tolist()))
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "corrupt")


def test_empty_file(tmp_path):
    path = tmp_path / "ck.pt"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "corrupt")


def test_pickle_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "ck.pt"
    torch.save({"format": checkpoint.FORMAT, "version": 1, "x": Evil()}, path)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path)
    assert not marker.exists()


def test_plain_torch_dict_without_marker(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "not a seqgan checkpoint")


def test_plain_tensor_file(tmp_path):
    path = tmp_path / "t.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "not a seqgan checkpoint")


@pytest.mark.parametrize("version", [2, 0, None, "1", True])
def test_wrong_version(tmp_path, version):
    path = tmp_path / "ck.pt"
    torch.save({**payload(), "format": checkpoint.FORMAT, "version": version}, path)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, "version", repr(version))


def test_wrong_algorithm(tmp_path):
    path = checkpoint.save(tmp_path / "ck.pt", payload())
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path, algorithm="maskgan")
    assert_clear(e, path, "'seqgan'", "'maskgan'")


@pytest.mark.parametrize("missing", ["algorithm", "config", "progress", "state"])
def test_incomplete_checkpoint(tmp_path, missing):
    body = payload()
    del body[missing]
    path = checkpoint.save(tmp_path / "ck.pt", body)
    with pytest.raises(CheckpointError) as e:
        checkpoint.load(path)
    assert_clear(e, path, f"'{missing}'", "missing")


def test_load_module_state_shape_mismatch_names_module():
    small, big = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)
    with pytest.raises(CheckpointError) as e:
        load_module_state(small, big.state_dict(), "discriminator")
    msg = str(e.value)
    assert "discriminator" in msg and "weight" in msg and "\n" not in msg, msg
    assert "torch.Size([2, 4])" in msg and "torch.Size([2, 3])" in msg, msg


def test_load_module_state_missing_keys_and_non_dict():
    with pytest.raises(CheckpointError, match="generator.*bias"):
        load_module_state(torch.nn.Linear(3, 2), {"weight": torch.zeros(2, 3)}, "generator")
    with pytest.raises(CheckpointError, match="rollout policy"):
        load_module_state(torch.nn.Linear(3, 2), [1, 2], "rollout policy")


def test_load_module_state_loads_values():
    src, dst = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    load_module_state(dst, src.state_dict(), "generator")
    assert torch.equal(dst.weight, src.weight) and torch.equal(dst.bias, src.bias)

