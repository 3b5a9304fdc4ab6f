"""figures.curves.import_in_background: a run that will draw curves.png loads matplotlib
beside training, not on the drawing's critical path; one that will not draw never loads it.
Each check runs in a fresh interpreter, since an import happens once per process."""

from __future__ import annotations

import subprocess
import sys

IMPORTS = """
import sys, tempfile, threading
from genlab.training.logs import MetricsFiles
assert "matplotlib" not in sys.modules, "imported before the run"
MetricsFiles(tempfile.mkdtemp(), "t", draws=sys.argv[1] == "main")
for thread in threading.enumerate():
    if thread.name == "genlab-import-matplotlib":
        thread.join(60)
print("matplotlib.backends.backend_agg" in sys.modules, "matplotlib.figure" in sys.modules)
"""


def _loaded(rank: str) -> str:
    done = subprocess.run([sys.executable, "-c", IMPORTS, rank], capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def test_the_drawing_process_loads_matplotlib_in_the_background():
    assert _loaded("main") == "True True"


def test_a_process_that_never_draws_does_not_load_it():
    assert _loaded("other") == "False False"
