import pytest

from seqgan.music.melody import pitch_to_class

pytest.importorskip("matplotlib")


def test_piano_roll_png(tmp_path):
    from seqgan.music.plot import save_piano_roll
    import torch

    events = torch.tensor([pitch_to_class(60), 1, 1, 1, pitch_to_class(64), 1, 0, 1] * 4)
    path = save_piano_roll(events, tmp_path / "rolls" / "a.png", title="test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.png"]
    empty = save_piano_roll([1] * 32, tmp_path / "empty.png")
    assert empty.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
