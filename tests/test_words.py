"""The word tokenizer shared by word-vector training and every model that reads text through those vectors."""

from xlgraph.text.words import normalize, words


def test_lower_case_nfkc_and_punctuation_split():
    assert words("L'Hôtel-Dieu’s ﬁ² ＡＢＣ, e.g. 3.5€ foo_bar") == [
        "l", "hôtel", "dieu", "s", "fi2", "abc", "e", "g", "3", "5", "foo", "bar"]
    assert words("@user #NoFilter 🙂 http://t.co/x") == ["user", "nofilter", "http", "t", "co", "x"]
    assert words("¡Hola! ¿Qué TAL?  Straße\tÉTÉ\n") == ["hola", "qué", "tal", "straße", "été"]
    assert words("") == [] and words(" ...!? ") == []


def test_combining_marks_stay_inside_words():
    # decomposed é (e + U+0301) becomes the composed letter; Devanagari and Thai vowel signs are marks, which
    # Python's \w alone would cut words at
    assert words("cafe\u0301") == ["café"]
    assert words("नमस्ते दुनिया") == ["नमस्ते", "दुनिया"]
    assert words("ภาษาไทย") == ["ภาษาไทย"]
    assert normalize("Ｃafé") == "café"


def test_same_words_whatever_the_unicode_form():
    import unicodedata

    text = "Über Ærø, naïve CAFÉ déjà-vu"
    forms = {tuple(words(unicodedata.normalize(f, text))) for f in ("NFC", "NFD", "NFKC", "NFKD")}
    assert forms == {("über", "ærø", "naïve", "café", "déjà", "vu")}
