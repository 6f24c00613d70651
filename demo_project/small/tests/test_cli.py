from cli import main, summarize


def test_summarize():
    assert summarize("a b a", 1) == "words: 3\na: 2"


def test_main_reads_a_file(tmp_path, capsys):
    f = tmp_path / "t.txt"
    f.write_text("x y x")
    assert main([str(f), "-n", "1"]) == 0
    assert capsys.readouterr().out == "words: 3\nx: 2\n"
