"""Audio datasets: pad/crop, folders of WAV files (rates, channels, labels, bad input) and FSDD's official split."""
import numpy as np
import pytest

from seqgan.audio.data import SLICE, fit_length, fsdd_files, load_audio, load_fsdd, load_wav_folder
from seqgan.audio.wav import AudioError

from .helpers import digit_folder, tone, write_pcm


def test_fit_length_pads_with_zeros_or_keeps_the_start():
    x = np.arange(1, 6, dtype=np.float32)
    padded, how = fit_length(x, 8)
    assert how == "padded" and padded.tolist() == [1, 2, 3, 4, 5, 0, 0, 0]
    cropped, how = fit_length(x, 3)
    assert how == "cropped" and cropped.tolist() == [1, 2, 3]
    assert fit_length(x, 5)[1] == "exact"


def test_a_folder_of_mixed_wavs_is_converted_and_counted(tmp_path):
    write_pcm(tmp_path / "a.wav", tone(440, 8000, 4000), 8000)                       # 8 kHz: resampled, padded
    write_pcm(tmp_path / "sub" / "b.WAV", tone(440, 16000, 20000), 16000)            # cropped
    write_pcm(tmp_path / "c.wav", np.stack([tone(300, 16000, 100)] * 2, 1), 16000, channels=2)
    (tmp_path / "notes.txt").write_text("not audio")
    ds = load_wav_folder(tmp_path, length=SLICE)
    assert ds.names == ["a.wav", "c.wav", "sub/b.WAV"]
    assert tuple(ds.audio.shape) == (3, 1, SLICE) and ds.sample_rate == 16000
    s = ds.stats
    assert (s["clips"], s["resampled"], s["padded"], s["cropped"], s["mixed_to_mono"]) == (3, 1, 2, 1, 1)
    assert s["source_rates"] == {"8000": 1, "16000": 2}
    assert ds.labels.tolist() == [-1, -1, -1] and not ds.labeled
    a = ds.audio[0, 0].numpy()                     # 4000 samples at 8 kHz -> 8000 at 16 kHz, then zeros
    assert np.abs(a[200:7800] - tone(440, 16000, 8000)[200:7800]).max() < 1e-3 and not a[8000:].any()


def test_digit_named_files_get_labels(tmp_path):
    ds = load_audio(str(digit_folder(tmp_path, digits=(3, 7))), length=SLICE)
    assert ds.labels.tolist() == [3, 7] and ds.labeled


@pytest.mark.parametrize("make, words", [
    (lambda p: None, ["holds no .wav files"]),
    (lambda p: (p / "x.txt").write_text("hi"), ["holds no .wav files", "1 other files"]),
    (lambda p: (write_pcm(p / "good.wav", tone(1, 8000, 10), 8000), (p / "bad.wav").write_bytes(b"RIFF")),
     ["bad.wav", "not a WAV file"]),
])
def test_folder_problems_are_one_audio_error(tmp_path, make, words):
    make(tmp_path)
    with pytest.raises(AudioError) as e:
        load_wav_folder(tmp_path)
    for w in words:
        assert w in str(e.value)
    with pytest.raises(AudioError, match="is not a folder"):
        load_wav_folder(tmp_path / "missing")


def test_fsdd_split_by_recording_index_on_a_synthetic_copy(tmp_path):
    rec = tmp_path / "fsdd" / "recordings"
    for d in (0, 1):
        for i in (0, 4, 5, 49):
            write_pcm(rec / f"{d}_alice_{i}.wav", tone(300, 8000, 100), 8000)
    write_pcm(rec / "README.wav", tone(300, 8000, 100), 8000)        # not FSDD-named: ignored
    with pytest.raises(AudioError, match="listing is [0-9a-f]{64}, but .*fsdd.json expects 04e1baae") as e:
        load_fsdd("test", root=tmp_path)                           # not the published FSDD: refused by default
    assert "give the recordings folder itself" in str(e.value)
    test = load_fsdd("test", root=tmp_path, verify=False)
    train = load_fsdd("train", root=tmp_path / "fsdd", verify=False)
    assert sorted(test.names) == ["recordings/0_alice_0.wav", "recordings/0_alice_4.wav",
                                  "recordings/1_alice_0.wav", "recordings/1_alice_4.wav"]
    assert len(train) == 4 and all(n.endswith(("_5.wav", "_49.wav")) for n in train.names)
    assert sorted(test.labels.tolist()) == [0, 0, 1, 1] and test.stats["resampled"] == 4
    with pytest.raises(AudioError, match="recordings"):
        load_fsdd("train", root=tmp_path / "elsewhere", verify=False)
    with pytest.raises(AudioError, match="split"):
        load_fsdd("valid", root=tmp_path, verify=False)


def test_real_fsdd_official_split(data_dir):
    folder = data_dir / "fsdd"
    if not (folder / "recordings").is_dir():
        pytest.skip(f"FSDD is not in {data_dir}")
    files = fsdd_files(folder)
    assert len(files) == 3000
    assert sum(f[3] <= 4 for f in files) == 300                       # 6 speakers x 10 digits x indices 0-4
    ds = load_fsdd("test", root=data_dir, max_files=4)            # the listing digest matches the manifest
    assert tuple(ds.audio.shape) == (4, 1, SLICE) and ds.sample_rate == 16000 and ds.source == "fsdd:test"
    assert ds.stats["source_rates"] == {"8000": 4} and ds.stats["resampled"] == 4
    assert all(int(n.split("_")[-1][:-4]) <= 4 for n in ds.names) and ds.labeled
    assert float(ds.audio.abs().max()) <= 1.0
