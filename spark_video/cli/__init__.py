"""spark-video: a producer for AI-generated short episodes.

Start here (no keys needed, everything runs offline):

  spark-video new myshow --premise "Two keepers argue over the last lighthouse."
  spark-video episode myshow 001

The episode command writes the script, storyboard, clips and final mp4, stopping at
each gate (script, storyboard, renders, final) to ask: approve (y), describe a change
(routed to the screenwriter, the director, a new take or the mix), or quit (q).

Exit codes: 0 done; 1 failed (the message says what and where); 2 usage error;
3 waiting at a gate for approval (never used for an error); 130 stopped by Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys

from .. import gates
from ..base.io import InputError
from ..base.paths import PathError
from ..gates.revisions import RevisionError
from ..providers.base import ProviderError
from ..workflow.lock import EpisodeBusy
from .command import COMMANDS
from .common import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_USAGE, UsageError
from .terminal import terminal_kept

# Each module declares its commands (cli/command.py); the help lists them in this order.
# isort: off
from . import episode, gate, storyboard, render, stitch, revise, look  # noqa: F401, E402
from . import doctor, project, schemas  # noqa: F401, E402
# isort: on


def build_parser() -> argparse.ArgumentParser:
    """The parser, from the commands' declarations."""
    ap = argparse.ArgumentParser(prog="spark-video", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    for c in COMMANDS:
        c.add_to(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with terminal_kept():
        try:
            return args.fn(args)
        except (UsageError, EpisodeBusy) as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
        except PathError as e:  # an id given on the command line that cannot be a file name
            print(f"error: {e}", file=sys.stderr)
            return EXIT_USAGE
        except (InputError, gates.GateError, ProviderError, RevisionError) as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_FAIL
        except KeyboardInterrupt:
            again = " ".join(["spark-video", *(sys.argv[1:] if argv is None else argv)])
            print(f"\nstopped. Nothing approved is lost; resume with: {again}", file=sys.stderr)
            return EXIT_INTERRUPTED
