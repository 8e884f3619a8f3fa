"""lowbit.cli: the lowbit command and its argument checks."""

import subprocess
import sys

import pytest

from lowbit import cli


def test_help_lists_the_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "lowbit.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "qat-overhead" in out


@pytest.mark.parametrize("argv", [["qat-overhead", "--steps", "0"], ["qat-overhead", "--arch", "rnn"], ["nope"]])
def test_bad_arguments_exit_with_usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == 2
    assert "error" in capsys.readouterr().err


def test_qat_overhead_runs_end_to_end(capsys):
    assert cli.main(["qat-overhead", "--arch", "gru", "--steps", "2", "--seq-len", "8", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"ratio"' in out and "gru: float" in out
