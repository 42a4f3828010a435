from pwtui.text import csv_safe, safe_markup, safe_text


def test_control_characters_never_reach_the_terminal() -> None:
    assert safe_text("tv\x1b[2J\x1b]0;x\x07") == "tv\ufffd[2J\ufffd]0;x\ufffd"
    assert safe_text("a\x9bb\tc\nd") == "a\ufffdb c\ufffdd"
    assert safe_text(None) == ""


def test_markup_is_escaped() -> None:
    assert safe_markup("[bold red]x[/]") == "\\[bold red]x\\[/]"


def test_formula_prefixes_are_neutralised() -> None:
    assert [csv_safe(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "fridge", "")] == [
        "'=1+1",
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "fridge",
        "",
    ]
