"""Suite-wide settings.

Property tests are derandomised when CI is set (GitHub Actions and .ci/run's caller set it), so
a failure there reproduces with the same examples; locally they explore new examples each run.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
