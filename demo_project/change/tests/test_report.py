from report import markdown_table


def test_markdown_table_has_ranks():
    assert markdown_table("b a b", 2) == "| rank | word | count |\n|---|---|---|\n| 1 | b | 2 |\n| 2 | a | 1 |"
