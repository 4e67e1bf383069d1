"""Melody tokens (seqgan.music.tokens): names, ids, the round trip through MIDI, and the token corpora."""
import pytest
import torch

from seqgan.data.corpus import CorpusError, load_corpus
from seqgan.data.vocab import BOS, EOS, PAD, UNK
from seqgan.metrics.ngrams import tokenize
from seqgan.music.dataset import is_test_piece
from seqgan.music.melody import canonical, encode, events_to_midi, quantize_notes
from seqgan.music.midi import read_midi
from seqgan.music.tokens import (OFFSET, TOKEN_NAMES, events_to_ids, events_to_tokens, ids_to_events, melody_vocab,
                                 pitch_name, rows_to_lines, tokens_to_events)
from tests.music.helpers import scale_notes, write_midi

# two bars with a rest, a held note, a repeated note (E4 E4: two attacks) and a note that lasts to the end
MELODY = ("C4 hold D4 hold hold off hold E4 E4 hold G4 hold hold hold off hold "
          "hold hold Bb3 hold A0 C8 off hold Db5 hold hold hold hold hold hold hold").split()


def load(spec):
    return load_corpus(spec, seq_len=20, n_train=1, n_test=1, data_seed=0)


def test_names_and_ids():
    assert [pitch_name(p) for p in (21, 60, 61, 70, 108)] == ["A0", "C4", "Db4", "Bb4", "C8"]
    assert TOKEN_NAMES[:3] == ("off", "hold", "A0") and len(set(TOKEN_NAMES)) == len(TOKEN_NAMES) == 90
    vocab = melody_vocab()
    assert len(vocab) == 94
    assert vocab.encode(["off", "hold", "A0", "C4", "C8"]) == [4, 5, 6, 60 - 21 + 2 + 4, 93]
    # NLTK's word tokenizer (the text BLEU pipeline) keeps every name whole
    assert tokenize([" ".join(TOKEN_NAMES)])[0] == list(TOKEN_NAMES)


def test_tokens_midi_tokens_round_trip(tmp_path):
    events = tokens_to_events(MELODY)
    assert events == canonical(events) and len(events) == 32
    path = events_to_midi(tmp_path / "m.mid", events)
    midi = read_midi(path)
    back = encode(quantize_notes(midi.notes, midi.ticks_per_beat), 32)
    assert events_to_tokens(back) == MELODY
    ids = events_to_ids(torch.tensor([events]))
    assert vocab_line(ids) == " ".join(MELODY)


def vocab_line(ids):
    return melody_vocab().decode_text(ids[0].tolist())


def test_special_ids_read_as_hold_and_are_counted():
    ids = torch.tensor([[PAD, OFFSET + 10, BOS, EOS, UNK, OFFSET + 0]])
    events, specials = ids_to_events(ids)
    assert events.tolist() == [[1, 10, 1, 1, 1, 0]] and specials == 4
    assert rows_to_lines(ids) == ["<pad> F1 <bos> <eos> <unk> off"]   # class 10 = MIDI 29
    assert tokens_to_events(["<unk>", "C4"]) == [1, 41]


def test_unknown_token_is_named():
    with pytest.raises(ValueError, match=r"f.txt: token 2 'C#4' is not a melody token"):
        tokens_to_events(["C4", "C#4"], where="f.txt")


@pytest.fixture(scope="module")
def tunes(tmp_path_factory):
    """Six training tunes and two test tunes of 4 bars (3 two-bar windows each), laid out as $SEQGAN_DATA/nottingham."""
    root = tmp_path_factory.mktemp("melody_data")
    folder = root / "nottingham" / "MIDI" / "melody"
    folder.mkdir(parents=True)
    names = [f"tune{i}.mid" for i in range(200)]
    chosen = [n for n in names if not is_test_piece(n)][:6] + [n for n in names if is_test_piece(n)][:2]
    for k, name in enumerate(chosen):
        write_midi(folder / name, scale_notes(4, base=55 + k))
    return root, folder


def test_folder_corpus_rows_vocabulary_and_references(tunes):
    _, folder = tunes
    c = load(f"melody:{folder}")
    assert c.train.shape == (18, 32) and c.test.shape == (6, 32)
    assert c.vocab_size == 94 and c.eos_token is None and c.start_token == BOS
    assert int(c.train.min()) >= OFFSET and int(c.train.max()) < 94
    assert [melody_vocab().encode(line.split()) for line in c.references] == c.test.tolist()
    assert "18 train / 6 test windows" in c.source


def test_registered_name_reads_the_data_directory(tunes, monkeypatch):
    root, folder = tunes
    monkeypatch.setenv("SEQGAN_DATA", str(root))
    c = load("nottingham_melody")
    assert c.name == "nottingham_melody"
    assert torch.equal(c.train, load(f"melody:{folder}").train)


def test_bad_specs_are_one_clear_error(tunes, tmp_path):
    with pytest.raises(CorpusError, match="unknown melody corpus 'bach_melody'.*nottingham_melody"):
        load("bach_melody")
    with pytest.raises(CorpusError, match="is not a folder"):
        load(f"melody:{tmp_path / 'nope'}")
    only_test = tmp_path / "only_test"
    only_test.mkdir()
    write_midi(only_test / next(f"t{i}.mid" for i in range(200) if is_test_piece(f"t{i}.mid")), scale_notes(4))
    with pytest.raises(CorpusError, match="all 3 usable windows fall in the test split"):
        load(f"melody:{only_test}")
    with pytest.raises(CorpusError, match="drop --max-len"):
        load_corpus(f"melody:{tunes[1]}", seq_len=20, n_train=1, n_test=1, data_seed=0, max_len=10)
