"""Hypothesis profiles for the property suite.

"ci" (the default) is reproducible: derandomized, no example database, no
deadline (a shell run or a schema walk may be slow on a loaded machine).
"dev" explores: random seeds and ten times the examples of each test
(see `property_tests.strategies.examples`).  Pick one with HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
