from report import markdown_table


def test_markdown_table():
    assert markdown_table("b a b", 1) == "| word | count |\n|---|---|\n| b | 2 |"
