"""lowbit.pipeline.data.text: tokenizer rules, vocabulary, sequences (the contract the Java port copies)."""

import numpy as np
import pytest

from lowbit.pipeline.data.text import OOV, PAD, RESERVED, START, Vocabulary, tokenize


@pytest.mark.parametrize(
    "text,tokens",
    [
        ("", []),
        ("   \n\t ", []),
        ("Great movie!", ["great", "movie"]),
        ("Loved it.<br /><br />Hated the end", ["loved", "it", "hated", "the", "end"]),
        ("a<BR>b<br/>c<br  />d", ["a", "b", "c", "d"]),
        ("don't 'quoted' ''' it's'", ["don't", "quoted", "it's"]),
        ("!!!...???---", []),
        ("10/10, 4.5 stars", ["10", "10", "4", "5", "stars"]),
        ("Café NAÏVE straße", ["café", "naïve", "straße"]),  # every script's letters, lower-cased
        ("cafe\u0301", ["café"]),  # composed first (NFC)
        ("İSTANBUL ẞ", ["istanbul", "ß"]),  # simple case mappings: not "i̇"
        ("ΟΔΟΣ", ["οδοσ"]),  # no final sigma (Java's Character.toLowerCase)
        ("Привет, мир!", ["привет", "мир"]),
        ("हिन्दी भाषा", ["हिन्दी", "भाषा"]),  # vowel signs are marks, inside words
        ("١٢ 12", ["١٢", "12"]),  # decimal digits of any script
        ("私はコーヒー", ["私", "は", "コ", "ー", "ヒ", "ー"]),  # Han and kana: a token each
        ("ab中cd 𠀀", ["ab", "中", "cd", "𠀀"]),  # beyond the BMP: the slower expression
        ("𝔘𝔫𝔦 x", ["𝔘𝔫𝔦", "x"]),
        ("emoji 😀 here ½ ²", ["emoji", "here"]),  # symbols and other numbers separate
        ("<b>bold</b>", ["b", "bold", "b"]),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_lower_casing_is_the_simple_one_to_one_mapping_for_every_code_point():
    """What the Java port relies on: rule 3 maps each code point to one code point."""
    import sys

    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        lowered = chr(cp).replace("\u0130", "i").replace("\u03a3", "\u03c3").lower()  # as tokenize does
        assert len(lowered) == 1, hex(cp)


def test_vocabulary_ranks_by_count_then_alphabet_and_reserves_ids():
    vocab = Vocabulary.build(["b a b", "c b a", "d"], size=6)
    assert vocab.tokens == list(RESERVED) + ["b", "a", "c"]
    assert vocab.ids("a b c d zzz") == [4, 3, 5, OOV, OOV]
    assert len(vocab) == 6


def test_sequence_keeps_the_last_tokens_and_pads_at_the_front():
    vocab = Vocabulary(["w%d" % i for i in range(10)])
    np.testing.assert_array_equal(vocab.sequence("w0 w1", 5), [PAD, PAD, START, 3, 4])
    long = " ".join("w%d" % i for i in range(10))
    np.testing.assert_array_equal(vocab.sequence(long, 4), [9, 10, 11, 12])
    np.testing.assert_array_equal(vocab.sequence("", 3), [PAD, PAD, START])
    assert vocab.sequences([], 3).shape == (0, 3)
    assert vocab.sequences(["w1", "w2 w3"], 3).dtype == np.int32


def test_vocabulary_file_round_trip(tmp_path):
    vocab = Vocabulary.build(["the cat sat on the mat"], size=20)
    vocab.save(tmp_path / "vocab.txt")
    loaded = Vocabulary.load(tmp_path / "vocab.txt")
    assert loaded.tokens == vocab.tokens
    assert loaded.ids("the mat dog") == vocab.ids("the mat dog")


def test_bad_vocabularies_are_rejected(tmp_path):
    (tmp_path / "v.txt").write_text("hello\nworld\n")
    with pytest.raises(ValueError, match="not a lowbit vocabulary"):
        Vocabulary.load(tmp_path / "v.txt")
    with pytest.raises(ValueError, match="exceed 3"):
        Vocabulary.build(["a"], size=3)
