"""The teaching text says what the code does: one notation per quantity, captions that render."""

import re

from tests.helpers import RNN, SOURCE, notebooks, read


def markdown(name):
    return "\n".join(c.source for c in read(SOURCE / name).cells if c.cell_type == "markdown")


def squeeze(text):
    return re.sub(r"\s+", "", text)


FULL_A = squeeze(r"\frac{\partial J}{\partial a^{\langle t \rangle}}")
DIRECT_A = squeeze(r"\frac{\partial J^{\langle t \rangle}}{\partial a^{\langle t \rangle}}")
FULL_C = squeeze(r"\frac{\partial J}{\partial c^{\langle t \rangle}}")


def test_da_is_the_direct_part_and_da_next_the_full_gradient():
    """`da[:, :, t]` (the loss at step t only) and the sum the cell takes (with what comes
    back from step t + 1) have different names, in notebooks 3 and 4."""
    for name in ("3_rnn_backward.ipynb", "4_lstm.ipynb"):
        text = squeeze(markdown(name))
        assert "`da[:,:,t]`$=" + FULL_A not in text, f"{name} calls the direct part the full gradient"
        assert "`da[:,:,t]`$=" + DIRECT_A in text
        assert "da_{next}=" + FULL_A in text
    sum_rule = squeeze(markdown("3_rnn_backward.ipynb")).split("$$" + FULL_A + "=", 1)[1].split("$$")[0]
    assert sum_rule.startswith(r"\underbrace{" + DIRECT_A + "}")


def test_dc_next_is_not_the_full_gradient_of_the_memory():
    text = squeeze(markdown("4_lstm.ipynb"))
    assert "dc_{next}=" + FULL_C not in text
    assert "dc=" + FULL_C + "=dc_{next}+" in text


def test_notation_is_the_one_the_series_uses():
    text = markdown("1_rnn_cell_forward.ipynb")
    assert "[l]" not in text and "th}$ layer" not in text, "no layer superscript: the series has one layer"
    for path in notebooks(SOURCE):
        for cell in read(path).cells:
            if cell.cell_type == "markdown":
                # time steps are \langle t \rangle in LaTeX, not <t> (which HTML may eat)
                for display, inline in re.findall(r"\$\$(.+?)\$\$|\$(.+?)\$", cell.source, re.S):
                    assert not re.search(r"<\s*\w+\s*>", display + inline), (path.name, display + inline)


def test_captions_have_no_markdown_inside_html():
    """Markdown is not rendered inside an HTML block: `code` in a caption shows its backticks."""
    for path in notebooks(SOURCE):
        for caption in re.findall(r"<caption>.*?</caption>", markdown(path.name), re.S):
            assert "`" not in caption and "**" not in caption, (path.name, caption)


def test_the_lstm_cell_test_says_its_memory_is_given_not_zero():
    text = markdown("4_lstm.ipynb")
    tests_text = next(c.source for c in read(SOURCE / "4_lstm.ipynb").cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "cell_tests_text")
    assert "`c_prev = c0`" in tests_text and "not zero" in tests_text
    assert "The memory starts at" in text  # the sequence's, in 4.2


def test_every_figure_has_alternative_text():
    """A screen reader reads it, and nbconvert warned of every figure without it in each log."""
    import re
    for path in sorted(RNN.source.glob("*.ipynb")):
        for tag in re.findall(r"<img[^>]*>", path.read_text(encoding="utf-8")):
            assert re.search(r'alt=\\"[^"\\]{20,}', tag), f"{path.name}: {tag}"
