"""The digit classifier learns (sines of different pitch as classes), saves and loads exactly, and refuses foreign
checkpoints."""
import pytest
import torch

from seqgan.audio.classifier import ClassifierConfig, DigitClassifier, train_classifier
from seqgan.audio.data import AudioDataset
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError


def sines(n_per_class, seed, freqs=(300.0, 900.0, 2500.0)):
    """Clips of 16384 samples: class k is a tone at freqs[k] with random phase, amplitude and length."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(16384) / 16000
    clips, labels = [], []
    for k, f in enumerate(freqs):
        for _ in range(n_per_class):
            amp = 0.1 + 0.5 * torch.rand(1, generator=g)
            phase = 6.28 * torch.rand(1, generator=g)
            x = amp * torch.sin(2 * torch.pi * f * t + phase)
            x[int(4000 + 8000 * torch.rand(1, generator=g)):] = 0
            clips.append(x)
            labels.append(k)
    return AudioDataset(torch.stack(clips).unsqueeze(1), torch.tensor(labels), [f"{i}" for i in range(len(labels))],
                        16000, "synthetic")


CFG = ClassifierConfig(n_mels=20, channels=4, epochs=12, batch_size=8, lr=3e-3, max_shift=4, seed=0)


@pytest.fixture(scope="module")
def trained():
    return train_classifier(CFG, sines(8, seed=0), sines(5, seed=1))


def test_learns_well_above_chance_on_held_out_tones(trained):
    assert trained.test_accuracy > 0.9           # chance is 1/3 (3 classes)
    probs = trained.probabilities(sines(5, seed=2).audio)
    assert probs.shape == (15, 10) and torch.allclose(probs.sum(1), torch.ones(15))


def test_untrained_network_is_at_chance_level_for_comparison():
    clf = DigitClassifier(CFG)
    test = sines(5, seed=1)
    raw = clf.raw_features(test.audio)
    clf.mean, clf.std = raw.mean(dim=(0, 2)).unsqueeze(1), raw.std(dim=(0, 2)).unsqueeze(1)
    assert clf.accuracy(test) < 0.9


def test_save_and_load_give_the_same_predictions(tmp_path, trained):
    path = trained.save(tmp_path / "clf.pt")
    again = DigitClassifier.load(path)
    x = sines(2, seed=3).audio
    assert torch.equal(again.probabilities(x), trained.probabilities(x))
    assert again.test_accuracy == trained.test_accuracy and again.config == CFG
    assert torch.equal(again.features(x), trained.features(x))


def test_foreign_checkpoints_and_unlabelled_data_are_refused(tmp_path):
    from seqgan import checkpoint
    checkpoint.save(tmp_path / "g.pt", {"algorithm": "wavegan", "config": {}, "progress": {}, "state": {}})
    with pytest.raises(CheckpointError, match="not a digit classifier"):
        DigitClassifier.load(tmp_path / "g.pt")
    data = sines(1, seed=0)
    data.labels[:] = -1
    with pytest.raises(ConfigError, match="label"):
        train_classifier(CFG, data)
