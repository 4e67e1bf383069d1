"""Vocabularies and tokenizers for text corpora.

Special tokens have fixed ids in every vocabulary, so models, samplers and checkpoints can rely on them:

    PAD = 0  "<pad>"  fills a row after its EOS (the generators' ``pad_token``)
    BOS = 1  "<bos>"  the start token fed before the first real token (``start_token``)
    EOS = 2  "<eos>"  ends a sentence (``eos_token``); ``decode`` stops there
    UNK = 3  "<unk>"  any token outside the vocabulary

Regular tokens follow from id 4, ordered by training-split frequency (descending), ties by the token itself
(code-point order), so the same training text always gives the same ids.

Tokenizers (``Vocab.tokenizer``):

- ``"nltk"``: NLTK's ``NLTKWordTokenizer().tokenize(line)`` (needs no downloaded data). This is the tokenizer of
  the BLEU protocol (DESIGN.md §5): it splits punctuation attached to words ("front wheel." -> "wheel", ".").
- ``"whitespace"``: ``line.split()``, for files that were tokenized by their builders (PTB, Obama, IMDB-40): NLTK
  would re-split them (PTB's ``<unk>`` would become ``<``, ``unk``, ``>``).
- ``"char"``: every non-space character is a token (Chinese poems; spaces between characters are ignored).
- ``"bpe"``: a byte-pair-encoding model from HF ``tokenizers`` (``BPE`` + ``BpeTrainer`` + ``Metaspace``
  pre-tokenizer/decoder), trained on the training split only; its JSON is part of ``to_state()``.

Text in a file that literally reads ``<unk>`` (PTB marks its rare words that way) maps to UNK; literal ``<pad>``,
``<bos>`` and ``<eos>`` in a file also map to UNK, so control ids only ever come from the encoder, never from text.

Detokenization (``detokenize``/``decode_text``): tokens joined by single spaces for word and char level (Chinese
output then reads like the space-separated corpus files, which is what the BLEU references look like), the BPE
model's decoder for BPE.

Why word/char encoding is a plain dict and not a ``tokenizers`` ``WordLevel`` model: for already-split words the
model does nothing but a lookup, and moving the Python lists into Rust costs more than the lookup itself (measured on
IMDB-40 train, 75,000 lines / 3.0 M tokens: dict 0.4 s, ``WordLevel.encode`` per line 3.9 s, ``encode_batch`` 5.7 s).
``Vocab.to_hf_tokenizer()`` exports the equivalent ``WordLevel`` tokenizer for use with the HF ecosystem.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")
TOKENIZERS = ("nltk", "whitespace", "char", "bpe")
STATE_FORMAT = "seqgan.vocab"
STATE_VERSION = 1
_STATE_KEYS = ("format", "version", "tokenizer", "lowercase", "tokens", "bpe")


@lru_cache(maxsize=1)
def _nltk_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def tokenize(line: str, tokenizer: str = "nltk", *, lowercase: bool = False) -> list[str]:
    """Split one line with a word or char tokenizer ("nltk", "whitespace", "char"); BPE needs a trained ``Vocab``."""
    if lowercase:
        line = line.lower()
    if tokenizer == "nltk":
        return _nltk_tokenizer().tokenize(line)
    if tokenizer == "whitespace":
        return line.split()
    if tokenizer == "char":
        return [c for c in line if not c.isspace()]
    if tokenizer == "bpe":
        raise ValueError("the BPE tokenizer is trained on a corpus: use Vocab.train_bpe(lines).tokenize(line)")
    raise ValueError(f"unknown tokenizer '{tokenizer}'; known: {', '.join(TOKENIZERS)}")


class Vocab:
    """Token <-> id table with fixed special ids (PAD=0, BOS=1, EOS=2, UNK=3) and the tokenizer that feeds it.

    Build one with ``Vocab.build`` (token lists), ``Vocab.from_lines`` (raw lines) or ``Vocab.train_bpe``; store it
    with ``to_state()`` (plain str/int/bool/list values, safe for ``torch.load(weights_only=True)``) and restore it
    with ``Vocab.from_state``.
    """

    def __init__(self, tokens: Sequence[str], *, tokenizer: str = "whitespace", lowercase: bool = False,
                 bpe_json: str = ""):
        tokens = list(tokens)
        _validate_tokens(tokens, tokenizer)
        if (tokenizer == "bpe") != bool(bpe_json):
            raise ValueError("a BPE vocabulary needs its tokenizer JSON (bpe_json), and only a BPE vocabulary has one")
        self._tokens = tuple(tokens)
        self._tokenizer = tokenizer
        self._lowercase = bool(lowercase)
        self._bpe_json = bpe_json
        self._hf = None
        if tokenizer == "bpe":
            self._hf = _bpe_from_json(bpe_json)
            hf_tokens = _hf_tokens(self._hf)
            if hf_tokens != self._tokens:
                raise ValueError("the BPE tokenizer JSON's vocabulary does not match the token list")
        self._id = {t: i for i, t in enumerate(self._tokens)}
        # text-facing lookup: "<unk>" -> UNK, other control strings are unknown text (-> UNK by default)
        self._encode_index = dict(self._id)
        for special in SPECIAL_TOKENS[:3]:
            del self._encode_index[special]

    # -- construction ---------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], *, min_freq: int = 1, max_size: int | None = None,
              tokenizer: str = "whitespace", lowercase: bool = False) -> Vocab:
        """A vocabulary of the tokens seen at least ``min_freq`` times in ``token_lists``.

        ``max_size`` bounds ``len(vocab)`` INCLUDING the 4 special tokens (so it is the model's vocab_size); the
        most frequent tokens are kept, ties broken by the token. ``tokenizer``/``lowercase`` record how the token
        lists were made, so that ``tokenize``/``encode_line`` do the same to new text.
        """
        if tokenizer == "bpe":
            raise ValueError("use Vocab.train_bpe for a BPE vocabulary")
        if min_freq < 1:
            raise ValueError(f"min_freq must be at least 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must be at least {len(SPECIAL_TOKENS)} (the special tokens), got {max_size}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        for special in SPECIAL_TOKENS:
            counts.pop(special, None)
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        if max_size is not None:
            kept = kept[: max_size - len(SPECIAL_TOKENS)]
        return cls(list(SPECIAL_TOKENS) + kept, tokenizer=tokenizer, lowercase=lowercase)

    @classmethod
    def from_lines(cls, lines: Iterable[str], *, tokenizer: str = "nltk", lowercase: bool = False,
                   min_freq: int = 1, max_size: int | None = None) -> Vocab:
        """Tokenize raw lines with a word/char tokenizer and ``build`` from them."""
        return cls.build((tokenize(line, tokenizer, lowercase=lowercase) for line in lines), min_freq=min_freq,
                         max_size=max_size, tokenizer=tokenizer, lowercase=lowercase)

    @classmethod
    def train_bpe(cls, lines: Iterable[str], *, vocab_size: int = 8000, min_freq: int = 1,
                  lowercase: bool = False) -> Vocab:
        """Train a BPE model (HF ``tokenizers``) on ``lines`` (the training split only).

        ``vocab_size`` includes the 4 special tokens; a small corpus may end with fewer entries (nothing left to
        merge). Word boundaries are kept by the ``Metaspace`` pre-tokenizer, so ``decode_text`` restores spacing.
        """
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"BPE vocab_size must exceed {len(SPECIAL_TOKENS)} (the special tokens), got {vocab_size}")
        hf = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS[UNK]))
        if lowercase:
            hf.normalizer = normalizers.Lowercase()
        hf.pre_tokenizer = pre_tokenizers.Metaspace()
        hf.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=max(min_freq, 0),
                                      special_tokens=list(SPECIAL_TOKENS), show_progress=False)
        hf.train_from_iterator((line for line in lines), trainer)
        # Keep "<unk>" as an added token (literal "<unk>" text -> UNK, as at word level) but not the control
        # tokens: a literal "<eos>" in the text must not end a sentence.
        spec = json.loads(hf.to_str())
        spec["added_tokens"] = [t for t in spec.get("added_tokens", []) if t.get("content") == SPECIAL_TOKENS[UNK]]
        bpe_json = json.dumps(spec, ensure_ascii=False, sort_keys=True)
        return cls(_hf_tokens(_bpe_from_json(bpe_json)), tokenizer="bpe", lowercase=lowercase, bpe_json=bpe_json)

    # -- text <-> tokens <-> ids ----------------------------------------------------------------------------------
    def tokenize(self, line: str) -> list[str]:
        """The tokens of one raw line, as this vocabulary's tokenizer splits it (BPE: the subword pieces)."""
        if self._hf is not None:
            return self._hf.encode(line).tokens
        return tokenize(line, self._tokenizer, lowercase=self._lowercase)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of tokens; anything outside the vocabulary (and literal control strings) -> UNK."""
        index = self._encode_index
        return [index.get(t, UNK) for t in tokens]

    def encode_line(self, line: str) -> list[int]:
        """Ids of one raw line (tokenize + encode)."""
        if self._hf is not None:
            return [UNK if i < UNK else i for i in self._hf.encode(line).ids]
        return self.encode(self.tokenize(line))

    def encode_lines(self, lines: Sequence[str]) -> list[list[int]]:
        """Ids of many raw lines (BPE: one batched call into ``tokenizers``)."""
        if self._hf is not None:
            return [[UNK if i < UNK else i for i in enc.ids] for enc in self._hf.encode_batch(list(lines))]
        return [self.encode_line(line) for line in lines]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ids: stops at the first EOS, skips PAD and BOS, UNK reads "<unk>"."""
        out = []
        n = len(self._tokens)
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i in (PAD, BOS):
                continue
            if not 0 <= i < n:
                raise ValueError(f"token id {i} is outside the vocabulary (size {n})")
            out.append(self._tokens[i])
        return out

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Text of tokens: joined by spaces (word, char), the BPE decoder for BPE."""
        if self._hf is not None:
            return self._hf.decoder.decode(list(tokens))
        return " ".join(tokens)

    def decode_text(self, ids: Iterable[int]) -> str:
        """``detokenize(decode(ids))``."""
        return self.detokenize(self.decode(ids))

    # -- table access ---------------------------------------------------------------------------------------------
    @property
    def tokens(self) -> tuple[str, ...]:
        return self._tokens

    @property
    def tokenizer(self) -> str:
        return self._tokenizer

    @property
    def lowercase(self) -> bool:
        return self._lowercase

    @property
    def level(self) -> str:
        """"word", "char" or "bpe"."""
        return {"nltk": "word", "whitespace": "word"}.get(self._tokenizer, self._tokenizer)

    def id_to_token(self, i: int) -> str:
        return self._tokens[i]

    def token_to_id(self, token: str) -> int | None:
        """The table id of ``token`` (the special tokens included), None when absent. See ``encode`` for text."""
        return self._id.get(token)

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return token in self._id

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.to_state() == other.to_state()

    def __hash__(self) -> int:
        return hash((self._tokens, self._tokenizer, self._lowercase, self._bpe_json))

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, tokenizer={self._tokenizer!r}, lowercase={self._lowercase})"

    # -- state ----------------------------------------------------------------------------------------------------
    def to_state(self) -> dict:
        """A plain dict (str, int, bool, list of str) that ``Vocab.from_state`` restores exactly."""
        return {"format": STATE_FORMAT, "version": STATE_VERSION, "tokenizer": self._tokenizer,
                "lowercase": self._lowercase, "tokens": list(self._tokens), "bpe": self._bpe_json}

    @classmethod
    def from_state(cls, state: object) -> Vocab:
        """The vocabulary saved by ``to_state``; a foreign or corrupt state raises ValueError saying what is wrong."""
        if not isinstance(state, dict):
            raise ValueError(f"vocab state must be a dict, got {type(state).__name__}")
        if state.get("format") != STATE_FORMAT:
            raise ValueError(f"not a seqgan vocabulary state: format is {state.get('format')!r}, "
                             f"expected {STATE_FORMAT!r}")
        missing = [k for k in _STATE_KEYS if k not in state]
        extra = sorted(str(k) for k in state if k not in _STATE_KEYS)
        if missing or extra:
            raise ValueError("vocab state has " + "; ".join(
                part for part in (f"missing keys: {', '.join(missing)}" if missing else "",
                                  f"unexpected keys: {', '.join(extra)}" if extra else "") if part))
        version = state["version"]
        if type(version) is not int or version != STATE_VERSION:
            raise ValueError(f"unsupported vocab state version {version!r} (this seqgan reads {STATE_VERSION})")
        tokenizer = state["tokenizer"]
        if tokenizer not in TOKENIZERS:
            raise ValueError(f"vocab state has unknown tokenizer {tokenizer!r}; known: {', '.join(TOKENIZERS)}")
        if not isinstance(state["lowercase"], bool):
            raise ValueError(f"vocab state 'lowercase' must be a bool, got {type(state['lowercase']).__name__}")
        tokens = state["tokens"]
        if not isinstance(tokens, list):
            raise ValueError(f"vocab state 'tokens' must be a list of strings, got {type(tokens).__name__}")
        bpe = state["bpe"]
        if not isinstance(bpe, str):
            raise ValueError(f"vocab state 'bpe' must be a string, got {type(bpe).__name__}")
        try:
            return cls(tokens, tokenizer=tokenizer, lowercase=state["lowercase"], bpe_json=bpe)
        except ValueError as e:
            raise ValueError(f"invalid vocab state: {e}") from None

    def to_hf_tokenizer(self):
        """This vocabulary as a ``tokenizers.Tokenizer``.

        Word/char level: a ``WordLevel`` model over this table (with a ``WhitespaceSplit`` pre-tokenizer for
        "whitespace" vocabularies; for "nltk"/"char" feed it pre-tokenized words, ``is_pretokenized=True``). It
        maps text to the same ids as ``encode`` except that literal "<pad>"/"<bos>"/"<eos>" get their special ids.
        BPE: a copy of the trained tokenizer.
        """
        from tokenizers import Tokenizer, models, pre_tokenizers

        if self._tokenizer == "bpe":
            return _bpe_from_json(self._bpe_json)
        hf = Tokenizer(models.WordLevel({t: i for i, t in enumerate(self._tokens)}, unk_token=SPECIAL_TOKENS[UNK]))
        if self._tokenizer == "whitespace":
            hf.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        return hf


def _validate_tokens(tokens: list, tokenizer: str) -> None:
    if tokenizer not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; known: {', '.join(TOKENIZERS)}")
    bad = [i for i, t in enumerate(tokens) if not isinstance(t, str) or not t]
    if bad:
        raise ValueError(f"tokens must be non-empty strings; entry {bad[0]} is {tokens[bad[0]]!r}")
    if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
        raise ValueError(f"the first tokens must be the special tokens {list(SPECIAL_TOKENS)} (ids 0-3), "
                         f"got {tokens[: len(SPECIAL_TOKENS)]}")
    if len(set(tokens)) != len(tokens):
        dup = next(t for t, c in Counter(tokens).items() if c > 1)
        raise ValueError(f"duplicate token {dup!r}")
    if tokenizer != "bpe":
        spaced = next((t for t in tokens if any(c.isspace() for c in t)), None)
        if spaced is not None:
            raise ValueError(f"token {spaced!r} contains whitespace")


def _bpe_from_json(bpe_json: str):
    from tokenizers import Tokenizer

    try:
        spec = json.loads(bpe_json)
    except json.JSONDecodeError as e:
        raise ValueError(f"the BPE tokenizer JSON does not parse: {e}") from None
    model = spec.get("model") if isinstance(spec, dict) else None
    if not isinstance(model, dict) or model.get("type") != "BPE":
        raise ValueError("the BPE tokenizer JSON does not hold a BPE model")
    try:
        return Tokenizer.from_str(bpe_json)
    except Exception as e:  # tokenizers raises its own Exception type
        raise ValueError(f"the BPE tokenizer JSON is not a valid tokenizer: {e}") from None


def _hf_tokens(hf) -> tuple[str, ...]:
    vocab = hf.get_vocab(with_added_tokens=True)
    ordered = sorted(vocab.items(), key=lambda kv: kv[1])
    if [i for _, i in ordered] != list(range(len(ordered))):
        raise ValueError("the BPE tokenizer's ids are not contiguous from 0")
    return tuple(t for t, _ in ordered)
