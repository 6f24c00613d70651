from wordstats import count_words, top_words, words


def test_words_lowercases():
    assert words("Hello hello World") == ["hello", "hello", "world"]


def test_count_words():
    assert count_words("one two  three") == 3
    assert count_words("") == 0


def test_top_words_orders_by_frequency_then_alpha():
    assert top_words("b a b c a b", 2) == [("b", 3), ("a", 2)]
