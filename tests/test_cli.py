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


@pytest.mark.slow  # times real training steps
def test_qat_overhead_runs_end_to_end(capsys):
    assert cli.main(["qat-overhead", "--arch", "gru", "--steps", "2", "--seq-len", "8", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"ratio"' in out and "gru: float" in out


def test_help_does_not_load_tensorflow():
    probe = "import sys, lowbit.cli; lowbit.cli.build_parser(); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.fixture
def vocab(tmp_path):
    from lowbit.pipeline.data.text import Vocabulary

    path = tmp_path / "vocab.txt"
    Vocabulary(["good", "bad"]).save(path)
    return path


@pytest.mark.parametrize("error, code, message", [
    (ValueError("bad  value\non two lines"), 2, "lowbit tokenize: error: bad value on two lines"),
    (FileNotFoundError(2, "No such file or directory", "/x/vocab.txt"), 2,
     "lowbit tokenize: error: /x/vocab.txt: No such file or directory"),
    (PermissionError(13, "Permission denied", "/ro/out"), 2, "lowbit tokenize: error: /ro/out: Permission denied"),
], ids=["value-error", "missing-file", "read-only"])
def test_errors_are_one_line_with_exit_2(monkeypatch, capsys, vocab, error, code, message):
    def failing(args):
        raise error

    monkeypatch.setattr(cli, "_cmd_tokenize", failing)
    assert cli.main(["tokenize", "--vocab", str(vocab)]) == code
    assert capsys.readouterr().err == message + "\n"


def test_a_diverged_run_exits_1(monkeypatch, capsys, vocab):
    from lowbit.pipeline.train.loop import TrainingDiverged

    def failing(args):
        raise TrainingDiverged("loss became nan in epoch 1")

    monkeypatch.setattr(cli, "_cmd_tokenize", failing)
    assert cli.main(["tokenize", "--vocab", str(vocab)]) == 1
    assert capsys.readouterr().err == "lowbit tokenize: error: loss became nan in epoch 1\n"


@pytest.mark.parametrize("command, argv, hint", [
    ("tokenize", ["--vocab", "V"], None),
    ("train", ["--task", "imdb-lstm", "--scheme", "tc"], "resume with the same command and --resume"),
    ("run", [], "resume with the same command"),
])
def test_ctrl_c_exits_130_saying_how_to_resume(monkeypatch, capsys, command, argv, hint):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, f"_cmd_{command}", interrupted)
    assert cli.main([command, *argv]) == 130
    err = capsys.readouterr().err
    assert err.startswith(f"lowbit {command}: interrupted") and err.count("\n") == 1
    assert (hint in err) if hint else err == f"lowbit {command}: interrupted\n"


def test_a_closed_stdout_ends_quietly(vocab):
    lines = "\n".join(["a good film", "a bad film"] * 20000) + "\n"
    shell = f"{sys.executable} -m lowbit.cli tokenize --vocab {vocab} | head -1"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", shell], input=lines, capture_output=True, text=True)
    assert done.stdout.split("\n")[0].split()[-3:] == ["2", "3", "2"]  # 'a' is unknown, 'good' is 3
    assert "Traceback" not in done.stderr and done.stderr == ""
