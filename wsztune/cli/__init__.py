"""The ``wsztune`` command line: one module per command, each a thin shell over the modules.

A command parses and validates its input, calls the modules that do the work with plain data,
renders what they return and maps errors to exit codes. Only click is imported at start-up; every
command imports what it needs when it runs, so that ``wsztune --help`` stays instant.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from wsztune import __version__
from wsztune.cli import (
    compare,
    corpus,
    live,
    plot,
    probe,
    recommend,
    record,
    report,
    run,
    stacks,
    table,
)
from wsztune.cli.common import (
    INTERRUPTED_EXIT,
    OUTPUT_CLOSED_EXIT,
    OutputClosed,
    closed_outputs,
    error_line,
    interrupted_exit_code,
    permission_message,
    reader_gone_is_output_closed,
    silence_outputs,
)
from wsztune.errors import EXIT_USAGE, WsztuneError


class WsztuneGroup(click.Group):
    """A click group whose every error is one line on stderr with the right exit code.

    Overriding ``main`` (rather than wrapping it) means click's CliRunner sees exactly what a
    user sees. A reader that stops reading (``wsztune table | head -1``) ends the command
    quietly with exit code 141, as it ends cat or git.
    """

    def make_context(self, *args: Any, **extra: Any) -> click.Context:
        """Parse the arguments (``--help`` and ``--version`` print here), a closed output
        taken as in :meth:`invoke`."""
        with reader_gone_is_output_closed():
            return super().make_context(*args, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a broken pipe on our own output becomes :class:`OutputClosed`
        (click would take it as an OSError and exit 1)."""
        with reader_gone_is_output_closed():
            return super().invoke(ctx)

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:  # type: ignore[override]
        """Run the command; errors become one line and an exit code, never a traceback."""
        extra.pop("standalone_mode", None)
        try:
            result = super().main(args, prog_name or "wsztune", standalone_mode=False, **extra)
            sys.stdout.flush()  # what is still buffered breaks here, not at exit
        except (OutputClosed, BrokenPipeError):
            # BrokenPipeError: the flush above, the command ended and its last lines found no
            # reader.
            silence_outputs(closed_outputs())
            sys.exit(OUTPUT_CLOSED_EXIT)
        except click.ClickException as error:
            hint = ""
            if isinstance(error, click.UsageError) and error.ctx is not None:
                hint = f" (see '{error.ctx.command_path} --help')"
            error_line(f"{error.format_message()}{hint}")
            sys.exit(EXIT_USAGE)
        except WsztuneError as error:
            error_line(str(error))
            sys.exit(error.exit_code)
        except PermissionError as error:
            # Wherever it comes from (a corpus, a results file, -o, a folder on the way), for
            # every command: a user error, one line, never a traceback.
            error_line(permission_message(error))
            sys.exit(EXIT_USAGE)
        except (KeyboardInterrupt, click.Abort) as error:
            code = interrupted_exit_code(error)
            error_line("terminated (SIGTERM)" if code != INTERRUPTED_EXIT else "interrupted")
            sys.exit(code)
        sys.exit(result if isinstance(result, int) else 0)


@click.group(cls=WsztuneGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wsztune")
def cli() -> None:
    """Tune permessage-deflate (windowBits, memLevel) from a corpus of your real messages.

    \b
    Everyday use:
      wsztune run corpus.jsonl        sweep windowBits 9-15 x memLevel 1-9, save results/
      wsztune table --markdown        the grids, ready to paste into a pull request
      wsztune recommend --check 12:5 --baseline FILE
                                      in CI: has the setting you ship become worse?
    """


def main() -> None:
    """Console-script entry point."""
    cli.main()


for _command in (
    run.run,
    corpus.corpus,
    live.live,
    table.table,
    plot.plot,
    recommend.recommend,
    compare.compare,
    report.report,
    record.record,
    stacks.stacks,
    probe.probe,
):
    cli.add_command(_command)
