"""The tests, a folder per area, and their testkit (tests/support/), which the benchmarks share."""

import pytest

# The helper modules (the testkit, and a folder's own helpers beside its tests) hold asserts that used to stand in
# test modules or conftests: pytest rewrites them too, so a failing one still shows its values. (Registered here,
# before any of them is imported; outside pytest it does nothing.)
pytest.register_assert_rewrite("tests.support", "tests.e2e", "tests.security", "tests.hls")
