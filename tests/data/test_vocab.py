import io
import json

import pytest
import torch

from seqgan.data.vocab import BOS, EOS, PAD, SPECIAL_TOKENS, UNK, Vocab, tokenize


def roundtrip_through_torch(state):
    buf = io.BytesIO()
    torch.save({"vocab": state}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)["vocab"]


def test_special_ids_are_fixed():
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    v = Vocab.build([["b", "a"]])
    assert v.tokens[:4] == SPECIAL_TOKENS == ("<pad>", "<bos>", "<eos>", "<unk>")
    assert [v.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]


def test_build_orders_by_frequency_then_token_with_min_freq_and_max_size():
    lists = [["b", "a", "c", "c"], ["a", "c", "d", "b"], ["e"]]
    v = Vocab.build(lists)
    assert v.tokens[4:] == ("c", "a", "b", "d", "e")  # c:3, then a:2 < b:2 by token, then d:1 < e:1
    assert Vocab.build(lists, min_freq=2).tokens[4:] == ("c", "a", "b")
    small = Vocab.build(lists, max_size=6)  # max_size counts the 4 specials
    assert len(small) == 6 and small.tokens[4:] == ("c", "a")
    assert Vocab.build(reversed(lists)) == v  # same counts, same ids, whatever the order of the input


def test_encode_decode_round_trip_and_unknown_tokens():
    v = Vocab.build([["a", "man", "rides", "a", "bike", "."]])
    ids = v.encode(["a", "man", "rides", "a", "bike", "."])
    assert all(i >= 4 for i in ids)
    assert v.decode(ids) == ["a", "man", "rides", "a", "bike", "."]
    assert v.encode(["a", "zebra"]) == [v.token_to_id("a"), UNK]
    # literal control strings in text never become control ids; literal <unk> (PTB) is UNK
    assert v.encode(["<pad>", "<bos>", "<eos>", "<unk>"]) == [UNK] * 4
    assert "<eos>" not in Vocab.build([["<eos>", "<unk>", "x"]]).tokens[4:]


def test_decode_stops_at_eos_and_skips_pad_and_bos():
    v = Vocab.build([["x", "y"]])
    x, y = v.encode(["x", "y"])
    assert v.decode([BOS, x, PAD, y, EOS, x, x]) == ["x", "y"]
    assert v.decode([UNK, x]) == ["<unk>", "x"]
    assert v.decode_text(torch.tensor([x, y, EOS, PAD])) == "x y"
    with pytest.raises(ValueError, match="outside the vocabulary"):
        v.decode([len(v)])


def test_nltk_word_tokenizer_splits_trailing_punctuation():
    assert tokenize("a bicycle replica with a clock as the front wheel.") == [
        "a", "bicycle", "replica", "with", "a", "clock", "as", "the", "front", "wheel", "."]
    v = Vocab.from_lines(["the front wheel."], tokenizer="nltk")
    assert v.tokenize("front wheel.")[-2:] == ["wheel", "."]
    assert v.decode_text(v.encode_line("the front wheel.")) == "the front wheel ."
    # whitespace keeps pre-tokenized files (PTB) as they are
    assert tokenize(" no it was n't <unk> monday ", "whitespace") == ["no", "it", "was", "n't", "<unk>", "monday"]


def test_char_level_chinese():
    assert tokenize("秦川雄帝宅，函谷壮皇居。", "char") == list("秦川雄帝宅，函谷壮皇居。")
    assert tokenize("秦 川 雄 帝 宅", "char") == ["秦", "川", "雄", "帝", "宅"]
    v = Vocab.from_lines(["秦 川 雄 帝 宅", "函 谷 壮 皇 居"], tokenizer="char")
    assert v.level == "char" and len(v) == 4 + 10
    assert v.decode_text(v.encode_line("秦川雄帝宅")) == "秦 川 雄 帝 宅"
    assert v.encode_line("秦月")[-1] == UNK


def test_lowercase_option():
    v = Vocab.from_lines(["The Cat"], tokenizer="whitespace", lowercase=True)
    assert v.tokens[4:] == ("cat", "the")
    assert v.encode_line("THE CAT") == v.encode(["the", "cat"])


def test_state_round_trip_through_torch_weights_only():
    v = Vocab.from_lines(["a man rides a bike.", "two dogs."], tokenizer="nltk", lowercase=True, max_size=7)
    state = v.to_state()
    assert all(type(k) is str for k in state)
    assert all(type(x) in (str, int, bool, list) for x in state.values())
    restored = Vocab.from_state(roundtrip_through_torch(state))
    assert restored == v and len(restored) == 7 and restored.tokenizer == "nltk" and restored.lowercase
    assert restored.encode_line("A MAN.") == v.encode_line("A MAN.")
    assert v != Vocab.from_lines(["a man rides a bike.", "two dogs."], tokenizer="nltk", max_size=7)


@pytest.mark.parametrize("mutate, message", [
    (lambda s: ["not", "a", "dict"], "must be a dict"),
    (lambda s: {**s, "format": "other"}, "not a seqgan vocabulary state"),
    (lambda s: {**s, "version": 99}, "unsupported vocab state version 99"),
    (lambda s: {k: v for k, v in s.items() if k != "tokens"}, "missing keys: tokens"),
    (lambda s: {**s, "extra": 1}, "unexpected keys: extra"),
    (lambda s: {**s, "tokenizer": "spacy"}, "unknown tokenizer 'spacy'"),
    (lambda s: {**s, "tokens": "abc"}, "'tokens' must be a list"),
    (lambda s: {**s, "tokens": s["tokens"][1:]}, "special tokens"),
    (lambda s: {**s, "tokens": s["tokens"] + ["a"]}, "duplicate token 'a'"),
    (lambda s: {**s, "tokens": s["tokens"] + [5]}, "non-empty strings"),
    (lambda s: {**s, "tokens": s["tokens"] + ["a b"]}, "contains whitespace"),
    (lambda s: {**s, "lowercase": "yes"}, "'lowercase' must be a bool"),
    (lambda s: {**s, "bpe": "{}"}, "bpe_json"),
])
def test_from_state_rejects_foreign_or_corrupt_states(mutate, message):
    state = Vocab.build([["a", "b"]]).to_state()
    with pytest.raises(ValueError, match=message):
        Vocab.from_state(mutate(state))


TINY = ["the cat sat on the mat.", "the dog sat on the log!", "a cat and a dog met.", "the mat and the log."] * 3


def test_bpe_round_trip_on_a_tiny_corpus():
    v = Vocab.train_bpe(TINY, vocab_size=60)
    assert v.tokenizer == "bpe" and v.level == "bpe" and 4 < len(v) <= 60
    assert v.tokens[:4] == SPECIAL_TOKENS
    for line in TINY[:4] + ["a dog sat on the cat.", "the log and the  mat"]:
        ids = v.encode_line(line)
        assert all(4 <= i < len(v) for i in ids)
        assert v.decode_text(ids + [EOS, PAD]) == line
        assert v.encode(v.tokenize(line)) == ids
    assert v.encode_lines(TINY[:2]) == [v.encode_line(x) for x in TINY[:2]]
    # characters never seen in training are UNK; literal control strings are not control ids
    assert UNK in v.encode_line("zebra")
    assert not {PAD, BOS, EOS} & set(v.encode_line("the <eos> cat <pad>"))
    restored = Vocab.from_state(roundtrip_through_torch(v.to_state()))
    assert restored == v and restored.encode_line("the cat and the dog.") == v.encode_line("the cat and the dog.")


def test_bpe_state_with_a_corrupt_tokenizer_json_is_rejected():
    state = Vocab.train_bpe(TINY, vocab_size=40).to_state()
    with pytest.raises(ValueError, match="does not parse"):
        Vocab.from_state({**state, "bpe": state["bpe"][:-10]})
    spec = json.loads(state["bpe"])
    spec["model"]["type"] = "WordPiece"
    with pytest.raises(ValueError, match="BPE model"):
        Vocab.from_state({**state, "bpe": json.dumps(spec)})
    with pytest.raises(ValueError, match="does not match"):
        Vocab.from_state({**state, "tokens": state["tokens"][:-1] + ["zzz"]})


def test_hf_wordlevel_export_maps_like_encode():
    v = Vocab.from_lines(["no it was n't <unk> monday", "it was black"], tokenizer="whitespace")
    hf = v.to_hf_tokenizer()
    line = "it was n't a black <unk> day"
    assert hf.encode(line).ids == v.encode_line(line)
