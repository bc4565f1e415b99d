"""The C and LaTeX unit features against hand-labelled snippets, the choice of a feature set by the
run's corpus, the refusal of one that does not fit, and ``rnnlab units --features`` on a tiny model."""

import json

import pytest
import torch

from rnnlab.cli import main
from rnnlab.interpret.c_features import c_scan
from rnnlab.interpret.feature_sets import SETS, FeatureSetError, choose, corpus_set, sniff
from rnnlab.interpret.latex_features import latex_scan

C_CODE = "".join(
    f"/* step {i} */\nint f{i}(int x)\n{{\n\tif (x > {i}) {{\n\t\treturn '{{';\n\t}} else if (x)\n"
    f'\t\tputs("a;b");\n\treturn x; // done\n}}\n'
    for i in range(40)
)


def _bits(values: torch.Tensor) -> str:
    return "".join(str(int(v)) for v in values.tolist())


def _c(text: str, feature: str) -> str:
    return _bits(c_scan(text)[feature])


def _tex(text: str, feature: str) -> str:
    return _bits(latex_scan(text)[feature])


# C


def test_block_comments_do_not_nest_and_line_comments_end_at_the_newline():
    assert _c("/* a /* b */ c */", "inside a comment") == "111111111111" + "00000"  # the first */ ends it
    assert _c("/*/ x */y", "inside a comment") == "11111111" + "0"  # the * of /* closes nothing
    assert _c('a // "b\nc', "inside a comment") == "00" + "11111" + "00"  # the newline is outside
    assert _c('a // "b\nc', "inside a string") == "0" * 9  # a quote in a comment is text
    assert _c("// a \\\nb\nc", "inside a comment") == "1111111" + "10" + "0"  # backslash-newline goes on


def test_string_and_character_literals_with_escapes():
    text = r"""s = "a\"b/*"; c = '\''; d = '\\';"""  # as written in C
    assert _c(text, "inside a string") == "0000" + "11111111" + "0" * 21
    assert _c(text, "inside a character literal") == "0" * 18 + "1111" + "000000" + "1111" + "0"
    assert _c(text, "inside a comment") == "0" * len(text)  # "/*" in a string opens nothing
    assert _c('"ab\ncd', "inside a string") == "111" + "000"  # left open: it ends with its line


def test_brace_depth_skips_braces_in_strings_comments_and_character_literals():
    text = """f() { s = "{"; c = '}'; /* { */ // {\n{ } }}"""
    depth = c_scan(text)["brace depth"].tolist()
    inside = text.index("\n") + 1 - 4  # from the first { through the newline
    assert depth == [0] * 4 + [1] * inside + [2, 2, 1, 1, 0, 0]  # an extra } is clamped at 0


def test_if_with_braces_and_an_else_outside_its_body():
    text = "if (a) { b; } else { c; }\nd;"
    assert _c(text, "inside an if condition") == "000111" + "0" * 22
    assert _c(text, "inside an if body") == "000000" + "1111111" + "0" * 15


def test_a_brace_less_if_ends_at_its_semicolon_and_nested_ifs_stay_inside():
    assert _c("if (f(a)) b = (c); d;", "inside an if condition") == "000" + "111111" + "0" * 12
    assert _c("if (f(a)) b = (c); d;", "inside an if body") == "000000000" + "111111111" + "000"
    nested = "if (a) if (b) x; y;"
    assert _c(nested, "inside an if condition") == "000111" + "0000" + "111" + "000000"
    assert _c(nested, "inside an if body") == "000000" + "1111111111" + "000"
    blocks = "if ((a)) { if (b) { x; } y; } z;"
    assert _c(blocks, "inside an if condition") == "000" + "11111" + "000000" + "111" + "0" * 15
    assert _c(blocks, "inside an if body") == "0" * 8 + "1" * 21 + "000"


def test_a_loop_body_in_a_brace_less_if_and_else_if_and_words_holding_if():
    assert _c("if (a) while (b) { c; } d;", "inside an if body") == "000000" + "1" * 17 + "000"
    chain = "if (a) x; else if (b) y;"
    assert _c(chain, "inside an if condition") == "000111" + "000" + "000000" + "000" + "111" + "000"
    assert _c(chain, "inside an if body") == "000000" + "111" + "000000000" + "000" + "111"
    assert _c("elif (a) b; diff (c);", "inside an if body") == "0" * 21


def test_preprocessor_lines_and_their_continuations():
    text = "#define X(a) \\\n  if (a) y\nint z;\n  # include <s>\n"
    assert _c(text, "preprocessor line") == "1" * 15 + "1" * 10 + "0" + "0" * 7 + "00" + "1" * 13 + "0"
    assert _c(text, "inside an if condition") == "0" * len(text)  # a macro body is not a statement


def test_the_c_set_counts_a_tab_as_eight_columns():
    f = SETS["c"].compute("\tx\n  \ty\n")
    assert f["indentation"].tolist() == [8] * 8  # two spaces then a tab: column 8 as well
    assert f["position in line"].tolist() == [1, 2, 0, 1, 2, 3, 4, 0]  # a tab is one character read


@pytest.mark.parametrize("text", ["", "}}}))) if ( {", '"\\', "/*", "'", "#", "\\\n\\", "if", "else if (;"])
def test_the_scanners_never_fail_and_never_go_below_zero(text):
    for scan in (c_scan, latex_scan):
        f = scan(text)
        assert all(v.shape == (len(text),) and bool((v >= 0).all()) for v in f.values())


# LaTeX


def test_dollar_and_bracket_math():
    assert _tex("a $x$ b $$y$$ c", "inside math") == "00" + "111" + "000" + "11111" + "00"
    assert _tex("\\[x\\] \\(y\\) z", "inside math") == "11111" + "0" + "11111" + "00"
    assert _tex("$a$$b$", "inside math") == "111111"  # two inline maths, not a display


def test_math_environments_count_for_math_and_for_environment_depth():
    text = "a\\begin{equation}x\\end{equation}b"
    assert _tex(text, "inside math") == "0" + "1" * 31 + "0"
    assert _tex(text, "environment depth") == "0" + "1" * 31 + "0"
    listed = "\\begin{itemize}\\item \\begin{align*}x\\end{align*}\\end{itemize}"
    depth = [int(v) for v in latex_scan(listed)["environment depth"].tolist()]
    assert depth == [1] * 21 + [2] * 27 + [1] * 13  # any environment counts; only align* is math
    assert _tex(listed, "inside math") == "0" * 21 + "1" * 27 + "0" * 13


def test_escaped_dollars_and_percents():
    assert _tex("a \\$ b", "inside math") == "000000"
    assert _tex("$a \\$ b$ c", "inside math") == "11111111" + "00"  # \$ inside math leaves it open
    text = "a \\% b % c $d\ne"
    assert _tex(text, "inside a comment") == "0000000" + "111111" + "00"
    assert _tex(text, "inside math") == "0" * 15  # a $ in a comment opens nothing


def test_unbalanced_closers_are_text_and_a_blank_line_ends_math():
    text = "x\\end{equation} $y$ \\] z"
    assert _tex(text, "environment depth") == "0" * len(text)
    assert _tex(text, "inside math") == "0" * 16 + "111" + "00000"
    assert _tex("$a\n\nb", "inside math") == "111" + "00"
    assert _tex("\\[ $x \\] y", "inside math") == "11111111" + "00"  # \] closes the $ left open in it


def test_text_in_math_is_math_and_braces_nest():
    assert _tex("\\[\\text{if $x$} y\\]z", "inside math") == "1" * 19 + "0"
    assert [int(v) for v in latex_scan("{a{b}}c}d{")["brace depth"].tolist()] == [1, 1, 2, 2, 1, 0, 0, 0, 0, 1]


# choosing a set


@pytest.mark.parametrize(
    "data, expected",
    [("linux", "c"), ("linux:all", "c"), ("linux:drivers", "c"), ("latex", "latex"), ("latex:pari", "latex"),
     ("python-stdlib", "python"), ("shakespeare", "prose"), ("src/*.c", "c"), ("paper.TEX", "latex"),
     ("lib.py", "python")],
)  # fmt: skip
def test_the_run_s_corpus_chooses_the_set(data, expected):
    assert corpus_set(data)[0] == expected
    assert choose("auto", data, list("{};()\\$:"), "some text", "the model").name == expected


def test_a_folder_is_known_by_its_files_and_a_text_by_a_sniff(tmp_path):
    for name in ("a.tex", "b.tex", "c.c", "d.txt"):
        (tmp_path / name).write_text("x")
    assert corpus_set(str(tmp_path)) == ("latex", f"the .tex files of the run's corpus {tmp_path}")
    assert corpus_set(str(tmp_path / "d.txt")) is None
    assert sniff(C_CODE) == "c" and sniff("\\begin{proof}\nLet $x$ be.\n\\end{proof}\n") == "latex"
    play = "Hippolyta:\nFour days will quickly steep themselves in night;\nFour nights will dream away the time;\n"
    assert sniff(play) is None  # lines ending in ';' are not C without code around them
    chosen = choose("auto", "notes.txt", sorted(set(C_CODE)), C_CODE, "the model")
    assert (chosen.name, chosen.reason) == ("c", "the text read looks like C source")
    assert choose("auto", "notes.txt", list("ab"), "plain words\n", "the model").name == "all"


def test_auto_falls_back_to_all_when_the_model_never_saw_the_set_s_characters():
    chosen = choose("auto", "paper.tex", list("abc"), "x", "the model")
    assert chosen.name == "all" and "'\\\\', '$'" in chosen.reason


def test_a_set_of_another_family_or_of_unseen_characters_is_refused():
    with pytest.raises(FeatureSetError, match=r"^--features latex: the model of r was trained on linux \(C source\)"):
        choose("latex", "linux", list("{};()\\$"), "x", "the model of r")
    assert choose("all", "linux", list("ab"), "x", "m").name == "all"  # the general set fits every corpus
    assert choose("c", "linux:all", list("{};()"), "x", "m").reason == "asked for"
    with pytest.raises(FeatureSetError, match=r"never saw '\\\\', '\$', '{', '}' \(its vocabulary has 3 characters\)"):
        choose("latex", "notes.txt", list("abc"), "x", "m")


# the command


@pytest.fixture(scope="module")
def c_run(tmp_path_factory):
    """A tiny LSTM trained for a few steps on C source, and that source."""
    folder = tmp_path_factory.mktemp("crun")
    (folder / "code.c").write_text(C_CODE)
    run = folder / "run"
    argv = ["train", "--data", str(folder / "code.c"), "--out", str(run), "--max-steps", "3", "--time-budget", "0"]
    assert main(argv + "--hidden-size 8 --embedding-size 4 --seq-len 16 --batch-size 2 --sample-chars 0".split()) == 0
    return run, folder / "code.c"


def test_units_ranks_against_the_c_features(c_run, capsys):
    run, code = c_run
    capsys.readouterr()
    assert main(["units", str(run), "--text", str(code), "--features", "c", "--top", "2", "--chars", "2000"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["feature_set"] == "c" and result["feature_set_chosen_by"] == "asked for"
    assert set(result["features"]) == set(SETS["c"].compute("x"))
    assert len(result["features"]["inside an if body"]) == 2 and "inside quotation marks" not in result["features"]
    assert main(["units", str(run), "--text", str(code), "--top", "1", "--chars", "500"]) == 0
    assert json.loads(capsys.readouterr().out)["feature_set_chosen_by"] == f"the .c files of the run's corpus {code}"


def test_a_set_that_does_not_fit_is_refused_in_one_line_and_nothing_is_written(c_run, capsys):
    run, code = c_run
    capsys.readouterr()
    assert main(["units", str(run), "--text", str(code), "--features", "latex"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("rnnlab units: error: --features latex: the model of ") and "its features are c" in err
    page = run.parent / "page.html"
    assert main(["visualize", str(run), "--text", str(code), "--features", "prose", "--page", str(page)]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not page.exists() and not page.with_suffix(".json").exists()
    assert main(["units", str(run), "--text", str(code), "--features", "klingon"]) == 2  # argparse's choices
    assert "invalid choice: 'klingon'" in capsys.readouterr().err


def test_the_page_names_its_feature_set(c_run, capsys):
    run, code = c_run
    page = run.parent / "c.html"
    assert main(["visualize", str(run), "--text", str(code), "--chars", "600", "--page", str(page)]) == 0
    assert json.loads(page.with_suffix(".json").read_text())["feature_set"] == "c"
    assert '"feature_set": "c (the .c files of the run' in page.read_text()
    assert "features c (" in capsys.readouterr().out
