"""ALLIANCE_CHECKPOINT_SECONDS: how often a node signs and publishes its checkpoint."""

from __future__ import annotations

import pytest

from federation_api.settings import Settings


def test_default_and_override() -> None:
    assert Settings.from_env({}).checkpoint_seconds == 10.0
    assert Settings.from_env({"ALLIANCE_CHECKPOINT_SECONDS": "0.5"}).checkpoint_seconds == 0.5


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan", "inf", "86401"])
def test_bad_values_are_refused_with_the_variable_named(value: str) -> None:
    with pytest.raises(ValueError, match="ALLIANCE_CHECKPOINT_SECONDS"):
        Settings.from_env({"ALLIANCE_CHECKPOINT_SECONDS": value})
