"""The implementer's file format: a path line and a fenced block per file, parsed by one strict function."""

from aidevbot.schemas import parse_file_blocks, render_file_blocks

README = "# Tool\n\nInstall:\n\n```bash\npip install -r requirements.txt\n```\n\nThen:\n\n```\npython cli.py\n```\n"


def test_round_trip_of_rendered_files_including_empty_ones():
    files = {'cli.py': 'print("hi")\n', 'pkg/__init__.py': '', 'README.md': README}
    assert parse_file_blocks(render_file_blocks(files)).files == files


def test_nested_backticks_inside_a_file_do_not_end_it():
    files = {'README.md': README, 'doc.md': "Use ````four```` too\n````\ninner\n````\n"}
    text = render_file_blocks(files)
    assert '`````' in text  # the fence grew past the longest run inside
    assert parse_file_blocks(text).files == files


def test_three_backtick_outer_fence_with_nested_blocks_ends_at_the_last_bare_fence_before_the_next_file():
    text = f"README.md\n```markdown\n{README}```\n\ncli.py\n```python\nx = 1\n```\n"
    assert parse_file_blocks(text).files == {'README.md': README, 'cli.py': 'x = 1\n'}


def test_unclosed_fence_is_reported_and_its_partial_content_never_kept():
    got = parse_file_blocks("a.py\n````python\nx = 1\n````\n\nb.py\n````python\ndef half(", ['a.py', 'b.py'])
    assert got.files == {'a.py': 'x = 1\n'} and got.unclosed == ['b.py'] and got.missing == ['b.py']


def test_unclosed_three_backtick_block_followed_by_another_file():
    got = parse_file_blocks("a.py\n```python\nx = 1\n\nb.py\n```python\ny = 2\n```\n", ['a.py', 'b.py'])
    assert got.files == {'b.py': 'y = 2\n'} and got.unclosed == ['a.py']


def test_crlf_line_endings_become_lf():
    text = render_file_blocks({'a.py': 'x = 1\ny = 2\n'}).replace('\n', '\r\n')
    assert parse_file_blocks(text).files == {'a.py': 'x = 1\ny = 2\n'}


def test_a_missing_file_and_an_extra_file_are_named():
    got = parse_file_blocks(render_file_blocks({'a.py': 'x\n', 'notes.txt': 'n\n'}), ['a.py', 'b.py'])
    assert got.missing == ['b.py'] and got.extra == ['notes.txt'] and set(got.files) == {'a.py', 'notes.txt'}


def test_prose_between_and_around_files_is_ignored_and_header_styles_are_accepted():
    text = (
        "Here you go.\n\n### `src/app.py`\n````python\napp = 1\n````\n\nNow the test, which checks it:\n\n"
        "**tests/test_app.py**\n\n````python\nassert 1\n````\n\n"
        "File: requirements.txt\n````\nrequests\n````\nThat's all."
    )
    assert parse_file_blocks(text).files == {
        'src/app.py': 'app = 1\n',
        'tests/test_app.py': 'assert 1\n',
        'requirements.txt': 'requests\n',
    }


def test_a_fence_without_a_path_line_is_not_a_file_and_the_last_copy_of_a_path_wins():
    text = "Example:\n````python\nnot a file\n````\na.py\n````python\nold\n````\na.py\n````python\nnew\n````\n"
    assert parse_file_blocks(text).files == {'a.py': 'new\n'}


def test_an_answer_with_no_blocks_has_every_file_missing():
    got = parse_file_blocks("I cannot do that.", ['a.py'])
    assert got.files == {} and got.missing == ['a.py'] and got.unclosed == []
