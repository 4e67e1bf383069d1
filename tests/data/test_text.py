import gzip
import re

import pytest
import torch

from seqgan.data.corpus import CorpusError
from seqgan.data.text import decode_rows, load_text_corpus, read_corpus_lines, read_lines
from seqgan.data.vocab import EOS, PAD, UNK, tokenize


def write(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def small(tmp_path):
    train = write(tmp_path / "train.txt", "a b c\n\nb c d e f\n  \nc\n")
    test = write(tmp_path / "test.txt", "a z c\nb b b b b b b\n")
    return train, test


def test_rows_end_with_eos_then_padding_and_count_blank_lines(small):
    train, test = small
    c = load_text_corpus(f"{train},{test}", max_len=4, tokenizer="whitespace")
    assert c.train.shape == (3, 5) and c.train.dtype == torch.int64 and c.test.shape == (2, 5)
    v = c.vocab
    assert c.train[0].tolist() == v.encode(["a", "b", "c"]) + [EOS, PAD]
    assert c.train[1].tolist() == v.encode(["b", "c", "d", "e"]) + [EOS]  # truncated to max_len
    assert c.train[2].tolist() == v.encode(["c"]) + [EOS, PAD, PAD, PAD]
    assert ((c.train == EOS).sum(1) == 1).all()
    assert c.train_lines == ["a b c", "b c d e f", "c"] and c.test_lines == ["a z c", "b b b b b b b"]
    s = c.stats
    assert s["train"]["lines"] == 3 and s["train"]["blank_skipped"] == 2 and s["train"]["truncated"] == 1
    assert s["test"]["truncated"] == 1 and s["test"]["max_tokens"] == 7 and s["max_len"] == 4
    # vocabulary from train only: z is unknown in test
    assert c.test[0].tolist()[:3] == [v.encode(["a"])[0], UNK, v.encode(["c"])[0]]
    assert s["test"]["unk"] == 1 and s["test_unk_rate"] == pytest.approx(1 / 10)
    assert decode_rows(v, c.train) == ["a b c", "b c d e", "c"]
    assert c.vocab_size == len(v) and c.seq_len == 5 and (c.start_token, c.eos_token, c.pad_token) == (1, 2, 0)


def test_long_lines_drop_and_error(small):
    train, test = small
    c = load_text_corpus(f"{train},{test}", max_len=4, long_lines="drop")
    assert c.train.shape == (2, 5) and c.train_lines == ["a b c", "c"] and c.stats["train"]["dropped"] == 1
    assert c.test_lines == ["a z c"] and c.stats["test"]["dropped"] == 1 and c.stats["train"]["truncated"] == 0
    with pytest.raises(CorpusError, match=re.escape(f"{train}, line 3: 5 tokens, more than max_len=4")):
        load_text_corpus(f"{train},{test}", max_len=4, long_lines="error")
    with pytest.raises(CorpusError, match="all 1 train lines are longer"):
        load_text_corpus(str(write(train.parent / "long.txt", "a b c d e\n")), max_len=2, long_lines="drop")
    with pytest.raises(CorpusError, match="long_lines must be one of"):
        load_text_corpus(str(train), long_lines="cut")


def test_user_path_without_test_file_and_default_max_len(small):
    train, _ = small
    c = load_text_corpus(str(train))
    assert c.test is None and c.test_lines is None and c.stats["test_unk_rate"] is None
    assert c.max_len == 5 and c.train.shape == (3, 6) and c.stats["train"]["truncated"] == 0  # longest line
    assert c.level == "word" and c.vocab.tokenizer == "nltk" and "no checksums" in c.source


def test_word_level_uses_nltk_tokenization(tmp_path):
    train = write(tmp_path / "coco.txt", "a bicycle replica with a clock as the front wheel.\na man on a bike.\n")
    c = load_text_corpus(str(train))
    assert decode_rows(c.vocab, c.train)[0] == "a bicycle replica with a clock as the front wheel ."
    assert "wheel." not in c.vocab and "wheel" in c.vocab and "." in c.vocab


def test_char_and_bpe_levels(tmp_path):
    poems = write(tmp_path / "poems.txt", "秦川雄帝宅，函谷壮皇居。\n绮 殿 千 寻 起\n")
    c = load_text_corpus(str(poems), level="char")
    assert c.max_len == 12 and decode_rows(c.vocab, c.train)[1] == "绮 殿 千 寻 起"
    text = write(tmp_path / "t.txt", "the cat sat on the mat.\nthe dog sat on the log.\n" * 5)
    b = load_text_corpus(f"{text},{text}", level="bpe", bpe_vocab_size=50)
    assert b.vocab.tokenizer == "bpe" and len(b.vocab) <= 50
    assert decode_rows(b.vocab, b.test)[:2] == ["the cat sat on the mat.", "the dog sat on the log."]


def test_gzip_user_file(tmp_path):
    path = tmp_path / "train.txt.gz"
    path.write_bytes(gzip.compress("x y\ny z\n".encode()))
    c = load_text_corpus(str(path), tokenizer="whitespace")
    assert c.train_lines == ["x y", "y z"]


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (b"\n  \n\r\n", "only blank lines"),
    (b"good line\nbad \xff line\n", ", line 2: invalid UTF-8"),
    (b"ok\n\x00\x01\x02binary", "binary file"),
    ("utf16".encode("utf-16"), "UTF-16"),
])
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=re.escape(message)) as e:
        load_text_corpus(str(path))
    assert str(path) in str(e.value)
    # the same check guards the test file
    good = write(tmp_path / "good.txt", "fine\n")
    with pytest.raises(CorpusError, match=re.escape(str(path))):
        load_text_corpus(f"{good},{path}")


def test_missing_file_and_bad_gzip_and_spec_errors(tmp_path):
    with pytest.raises(CorpusError, match=re.escape(f"{tmp_path / 'nope.txt'}: file not found")):
        load_text_corpus(str(tmp_path / "nope.txt"))
    bad = tmp_path / "x.txt.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(CorpusError, match=re.escape(f"{bad}: not a valid gzip file")):
        load_text_corpus(str(bad))
    with pytest.raises(CorpusError, match="one comma at most"):
        load_text_corpus("a.txt,b.txt,c.txt")
    with pytest.raises(CorpusError, match="unknown corpus 'imag_coco'; known corpora: .*image_coco"):
        load_text_corpus("imag_coco")
    with pytest.raises(CorpusError, match="not a text corpus"):
        load_text_corpus("oracle")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("ok\ncafé\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=re.escape(f"{latin1}, line 2: invalid UTF-8 (byte 0xe9 at byte column 4)")):
        read_lines(latin1)


# --- real corpora ($SEQGAN_DATA) ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def coco():
    import os

    if not os.environ.get("SEQGAN_DATA"):
        pytest.skip("SEQGAN_DATA is not set")
    return load_text_corpus("image_coco")


def test_image_coco_loads_with_its_published_shape(coco):
    assert coco.train.shape == (10_000, 38) and coco.test.shape == (10_000, 38) and coco.max_len == 37
    assert len(coco.vocab) == 4_663  # 4,659 NLTK word types of image_coco.txt + 4 specials (PROVENANCE: 4,659)
    assert coco.stats["train"]["max_tokens"] == 37 and coco.stats["test"]["max_tokens"] == 34
    assert coco.stats["train"]["truncated"] == coco.stats["test"]["truncated"] == 0
    assert 0.03 < coco.stats["test_unk_rate"] < 0.05
    assert len(coco.test_lines) == 10_000
    assert coco.train_lines[0] == "a bicycle replica with a clock as the front wheel."
    assert decode_rows(coco.vocab, coco.train[:1]) == [" ".join(tokenize(coco.train_lines[0]))]
    assert "sha256 verified" in coco.source


def test_emnlp_news_has_no_training_split(data_dir):
    with pytest.raises(CorpusError, match="'emnlp_news' has no training split") as e:
        load_text_corpus("emnlp_news", root=data_dir)
    assert "--corpus path/to/train.txt" in str(e.value)
    refs = read_corpus_lines("emnlp_news", "test", root=data_dir)
    assert len(refs) == 10_000 and refs[0].endswith("terrorist acts .")


def test_texygen_poems_holds_out_the_last_tenth(data_dir):
    c = load_text_corpus("texygen_poems", root=data_dir)
    whole = read_lines(data_dir / "texygen-chinese-poems" / "shi.txt")
    assert c.train.shape == (14_755, 25) and c.test.shape == (1_639, 25)
    assert c.train_lines + c.test_lines == whole
    assert c.vocab.level == "char" and decode_rows(c.vocab, c.test[-1:]) == [" ".join(whole[-1].split())]


def test_ptb_has_a_valid_split_and_its_unk_is_our_unk(data_dir):
    c = load_text_corpus("ptb", root=data_dir)
    assert c.valid.shape == (3_370, 83) and c.test.shape == (3_761, 83) and c.train.shape == (42_068, 83)
    assert len(c.vocab) == 10_002  # 9,999 PTB types, "<unk>" among them, + 4 specials
    i = next(i for i, line in enumerate(c.train_lines) if "<unk>" in line.split())
    row = c.train[i].tolist()
    assert row[c.train_lines[i].split().index("<unk>")] == UNK and decode_rows(c.vocab, c.train[i:i + 1]) == [
        c.train_lines[i]]
    assert c.stats["train"]["unk"] == 45_020  # every literal <unk> of ptb.train.txt, nothing else


def test_checksum_mismatch_names_file_and_both_digests(tmp_path):
    folder = tmp_path / "texygen-image-coco"
    folder.mkdir()
    write(folder / "image_coco.txt", "a changed caption\n")
    write(folder / "test_coco.txt", "another\n")
    with pytest.raises(CorpusError) as e:
        load_text_corpus("image_coco", root=tmp_path)
    msg = str(e.value)
    assert str(folder / "image_coco.txt") in msg and "checksum mismatch" in msg
    assert "2c0fd1f0f43aac6a9dc3926a535516ccf395de535e15ac1fd17cd569420736f5" in msg  # expected
    import hashlib

    assert hashlib.sha256(b"a changed caption\n").hexdigest() in msg  # actual
    assert "restore the original" in msg
