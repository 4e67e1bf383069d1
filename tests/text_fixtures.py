"""A small synthetic text corpus with variable-length lines, written to files like a user's own."""
import random

SUBJECTS = ["a man", "a woman", "two dogs", "the cat", "a child", "three birds"]
VERBS = ["sits on", "looks at", "walks past", "stands near", "jumps over"]
OBJECTS = ["the table", "a red car", "the old bench", "a tree", "the kitchen sink", "a wooden fence"]
TAILS = ["", "in the park", "at night", "near the water", "with a small ball"]


def sentences(n, seed):
    rng = random.Random(seed)
    return [" ".join(w for w in (rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(TAILS))
                     if w) + " ." for _ in range(n)]


def write_corpus(folder, n_train=160, n_test=40):
    """train.txt and test.txt in ``folder``; returns the --corpus spec."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "train.txt", folder / "test.txt"
    train.write_text("\n".join(sentences(n_train, 0)) + "\n", encoding="utf-8")
    test.write_text("\n".join(sentences(n_test, 1)) + "\n", encoding="utf-8")
    return f"{train},{test}"
