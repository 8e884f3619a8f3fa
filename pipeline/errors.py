"""The one error type a user sees: :class:`LowbitError`, reported by the CLI as one line.

Every failure that is the user's input or the machine's state (missing data, a damaged
artifact, a diverged run, a device that is not there) raises a subclass; the CLI
(:func:`lowbit.cli.main`) prints ``lowbit COMMAND: error: MESSAGE`` and exits with
:attr:`LowbitError.exit_code` (2; a diverged training run 1).
"""


class LowbitError(Exception):
    """A failure to report to the user as one line; ``exit_code`` is the CLI's exit status."""

    exit_code = 2
