from md import to_html


def test_headings():
    assert to_html("# Title\n## Sub\n### Small") == "<h1>Title</h1>\n<h2>Sub</h2>\n<h3>Small</h3>"


def test_paragraph_lines_are_joined():
    assert to_html("one\ntwo\n\nthree") == "<p>one two</p>\n<p>three</p>"


def test_list():
    assert to_html("- a\n- b") == "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"


def test_blocks_mixed():
    text = "# T\nintro text\n- x\n- y\n\nend"
    assert to_html(text) == "<h1>T</h1>\n<p>intro text</p>\n<ul>\n<li>x</li>\n<li>y</li>\n</ul>\n<p>end</p>"


def test_inline_bold_em_code():
    assert to_html("a **b** *c* `d`") == "<p>a <strong>b</strong> <em>c</em> <code>d</code></p>"


def test_no_emphasis_inside_code():
    assert to_html("`**x**`") == "<p><code>**x**</code></p>"


def test_escaping():
    assert to_html("a < b & c > d") == "<p>a &lt; b &amp; c &gt; d</p>"
    assert to_html("`<tag>`") == "<p><code>&lt;tag&gt;</code></p>"


def test_inline_in_heading_and_items():
    assert to_html("## **Big** news\n\n- *one*") == "<h2><strong>Big</strong> news</h2>\n<ul>\n<li><em>one</em></li>\n</ul>"


def test_empty():
    assert to_html("") == ""
    assert to_html("\n\n") == ""


def test_hash_without_space_is_text():
    assert to_html("#hashtag") == "<p>#hashtag</p>"
