"""What Snakemake imports of ours while it parses the workflow and plans the DAG.

Every `snakemake` run (a no-op too) pays for the imports the Snakefile and rules/*.smk make at
the top, and a no-op makes no call and cuts nothing: the HTTP stack (httpx, ~0.1 s) is
imported where a call is made, and the stitch (its ffmpeg graphs, ~0.15 s) only by a run that
asks for timeline exports (rules/export.smk), not at parse time (bench/noop_bench.py
measures the no-op).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_AT_PARSE_TIME = ("httpx", "ffmpeg")  # ffmpeg: typed-ffmpeg, the stitch's graphs


def parse_time_imports() -> list[str]:
    """The unindented `from spark_video... import` / `import spark_video...` lines of the
    Snakefile and rules/*.smk (an indented one runs only when its branch does)."""
    lines = []
    for f in [ROOT / "Snakefile", *sorted((ROOT / "rules").glob("*.smk"))]:
        lines += re.findall(r"^((?:from spark_video\S* import|import spark_video)[^#\n]*)",
                            f.read_text(encoding="utf-8"), re.M)
    return lines


def test_parsing_the_workflow_imports_no_http_or_ffmpeg_stack():
    lines = parse_time_imports()
    assert any("spark_video.workflow" in line for line in lines)
    code = "\n".join([*lines, "import sys",
                      f"print(' '.join(m for m in {NOT_AT_PARSE_TIME!r} if m in sys.modules))"])
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, check=True)
    loaded = proc.stdout.split()
    assert not loaded, (f"parsing the workflow imports {', '.join(loaded)}; import it inside "
                        "the function that makes the call (see providers/http.py)")
