"""`spark-video schemas`: write schemas/*.json from the models."""

from __future__ import annotations

from ..base.schemas import export
from .command import command
from .common import EXIT_OK


@command("schemas", help="write schemas/*.json")
def cmd_schemas(args) -> int:
    for p in export():
        print(p)
    return EXIT_OK

