"""`python -m spark_video.cli`: the same as the `spark-video` command."""

import sys

from . import main

sys.exit(main())
