"""What every test of a refused command checks: one line on stderr, no traceback."""


def one_line_error(capsys, *fragments: str) -> str:
    """The captured stderr, asserted to be one line without a traceback that holds every fragment."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err
