"""android_demo: the app's Java core passes its JUnit tests on this JVM, its resources and manifest
link with aapt2, and its tokenizer gives exactly the Python ids on 2,000 real reviews and on
hand-made edge cases (both command lines fed the same stdin)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # see the module docstring

from lowbit.pipeline.data import imdb
from lowbit.pipeline.data.text import Vocabulary

DEMO = Path(__file__).resolve().parents[1] / "android_demo"
CORE = DEMO / "app" / "src" / "main" / "java" / "dev" / "lowbit" / "demo" / "core"

EDGE_CASES = [
    "", "   ", "A<br />B<BR/>c<Br >d<br\t/\n>e", "x<br\u00a0/>y", "<br", "<br/", "br>",
    "Don't 'quote' me ''' rock'n'roll '", "...!!!???---", "1990s 10/10 4.5", "naïve café ÉCOLE",
    "emoji 😀👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "tab\tsep\u000bvt\u000cff", "UPPER lower MiXeD", "cafe\u0301 ΟΔΟΣ İ",
    "lone surrogate \ud800 here", "word " * 5000,
]


def run(args, **kwargs):
    return subprocess.run(args, capture_output=True, timeout=600, **kwargs)


def test_java_core_unit_tests_pass():
    done = run(["bash", str(DEMO / "scripts" / "jvm-tests.sh")], text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    count = int(re.search(r"OK \((\d+) tests\)", done.stdout).group(1))
    assert count >= 50


def test_resources_and_manifest_compile_and_link_with_aapt2():
    done = run(["bash", str(DEMO / "scripts" / "check-resources.sh")], text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    out = tmp_path_factory.mktemp("classes")
    done = run(["javac", "--release", "17", "-encoding", "UTF-8", "-d", str(out), *map(str, CORE.glob("*.java"))],
               text=True)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def reviews_and_vocab(shared_data, tmp_path_factory):
    data = imdb.load(shared_data)
    vocab_path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    Vocabulary.build(data["train"].texts[::5], 20_000).save(vocab_path)
    test = data["test"].texts
    return [test[i] for i in range(0, len(test), len(test) // 2000)][:2000], vocab_path


def tokenized_by_both(java_classes, vocab_path, stdin: bytes):
    python = run([sys.executable, "-m", "lowbit.cli", "tokenize", "--vocab", str(vocab_path)], input=stdin)
    java = run(["java", "-cp", str(java_classes), "dev.lowbit.demo.core.TokenizeMain", str(vocab_path)], input=stdin)
    assert python.returncode == 0 and java.returncode == 0, python.stderr + java.stderr
    return python.stdout, java.stdout


def test_same_ids_on_2000_real_reviews(java_classes, reviews_and_vocab):
    reviews, vocab_path = reviews_and_vocab
    assert len(reviews) == 2000
    stdin = "\n".join(reviews).encode("utf-8") + b"\n"
    python, java = tokenized_by_both(java_classes, vocab_path, stdin)
    assert python.count(b"\n") == 2000
    assert python == java
    vocab = Vocabulary.load(vocab_path)  # and what both print is the sequence the model is fed
    assert python.splitlines()[7].decode() == " ".join(map(str, vocab.sequence(reviews[7], 80)))


def test_same_ids_on_edge_cases_and_raw_bytes(java_classes, reviews_and_vocab):
    _, vocab_path = reviews_and_vocab
    stdin = b"\n".join(t.encode("utf-8", "surrogatepass") for t in EDGE_CASES)
    stdin += b"\ninvalid \xff\xfe utf-8 caf\xe9\r\r\nCRLF line\r\n\nlast line without newline"
    python, java = tokenized_by_both(java_classes, vocab_path, stdin)
    assert python.count(b"\n") == sum(t.count("\n") + 1 for t in EDGE_CASES) + 4  # one case holds a LF
    assert python == java


@pytest.fixture(scope="module")
def langid_texts_and_vocab(tmp_path_factory):
    """The multi-class example corpus (8 languages of Debian's fortunes, downloaded once and
    sha256-checked), its vocabulary from the training split as lowbit run builds it, and every
    test text."""
    from lowbit.pipeline.data import corpora, user

    root = corpora.write("fortunes-langid", tmp_path_factory.mktemp("langid") / "corpus", progress=False)
    splits = user.text_folder_splits(root, vocab_size=20_000, max_tokens=40)
    vocab_path = root.parent / "vocab.txt"
    splits.artifacts["vocab.txt"](vocab_path)
    return user.read_texts(root, "test", user.text_labels(root)).texts, vocab_path


def test_same_ids_on_every_test_text_of_the_multi_class_corpus(java_classes, langid_texts_and_vocab):
    texts, vocab_path = langid_texts_and_vocab
    assert len(texts) == 3200  # 400 per language
    stdin = "\n".join(t.replace("\n", " ") for t in texts).encode("utf-8") + b"\n"
    python, java = tokenized_by_both(java_classes, vocab_path, stdin)
    assert python.count(b"\n") == len(texts) and python == java
    assert any(not line.endswith(b" 2") for line in python.splitlines())  # words of the vocabulary, not only OOV


MULTILINGUAL = [  # one line per script, with its case, marks and digits
    "Le café est très naïf, ÉCOLE. Ça va? L'été dernier, à Noël.",
    "Straße, GRÖSSE, ẞ und Übermut: 1990er.",
    "İstanbul'da ılık bir gün; IĞDIR ŞEHİR.",
    "ΟΔΟΣ Σοφίας· ή ΣΟΦΊΑ, ἀρχή.",
    "Привет, МИР! Ёлка и щи.",
    "مرحبا بالعالم ١٢٣ كتاب.",
    "שלום עולם, ספר.",
    "हिन्दी भाषा में १२३ शब्द।",
    "বাংলা ভাষা, தமிழ் மொழி, ಕನ್ನಡ.",
    "ภาษาไทย ๑๒๓ สวัสดี",
    "我爱自然语言处理。繁體中文，𠀀𪚥。",
    "私はコーヒーが好きです。ｶﾀｶﾅ、ひらがな。",
    "한국어 텍스트 처리, 서울.",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng.",
    "Ꭰ Ꮳ ᏣᎳᎩ; ᲐᲑᲒ ქართული; Ⰰⰰ.",
    "ﬁne ﬂag Ⅻ ½ ² ℌ 𝔘𝔫𝔦 ＡＢＣ ａｂｃ",
]


def _tokens_vocab(texts, path):
    """A vocabulary holding every Python token of ``texts``: then the ids of both command lines
    are equal exactly when their tokens are (a Java token Python lacks would be <oov>)."""
    from collections import Counter

    from lowbit.pipeline.data.text import tokenize

    counts = Counter(t for text in texts for t in tokenize(text))
    Vocabulary.from_counts(counts, len(counts) + 3).save(path)
    return path


def test_same_tokens_on_a_multilingual_corpus(java_classes, tmp_path):
    vocab = _tokens_vocab(MULTILINGUAL, tmp_path / "vocab.txt")
    python, java = tokenized_by_both(java_classes, vocab, "\n".join(MULTILINGUAL).encode("utf-8") + b"\n")
    assert python == java and b" 2 " not in python and not python.rstrip().endswith(b" 2")


def test_same_tokens_for_every_code_point_java_knows(java_classes, tmp_path):
    """Each code point between two letters, alone and upper-cased beside itself: classification,
    lower-casing, normalization and the single-character blocks, everywhere in Unicode. Java 17
    knows Unicode 13, Python 3.11 Unicode 14: the lines that differ must all be code points that
    Java does not know (asked of Java itself), and they must be few."""
    import unicodedata

    points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and unicodedata.category(chr(cp)) != "Cn"
              and chr(cp) not in "\n\r"]
    lines = [f"a{chr(cp)}b {chr(cp)}" for cp in points]
    vocab = _tokens_vocab(lines, tmp_path / "vocab.txt")
    python, java = tokenized_by_both(java_classes, vocab, "\n".join(lines).encode("utf-8") + b"\n")
    python, java = python.splitlines(), java.splitlines()
    assert len(python) == len(java) == len(points)
    differing = [cp for cp, p, j in zip(points, python, java) if p != j]
    source = tmp_path / "Known.java"
    source.write_text("public class Known { public static void main(String[] a) { for (String s : a) "
                      "System.out.println(Character.isDefined(Integer.parseInt(s))); } }")
    assert run(["javac", "-d", str(tmp_path), str(source)]).returncode == 0
    known = run(["java", "-cp", str(tmp_path), "Known", *map(str, differing)], text=True).stdout.split()
    assert "true" not in known, [hex(cp) for cp, k in zip(differing, known) if k == "true"][:20]
    assert len(differing) < 1000, len(differing)  # Unicode 14 added 838 characters
