"""The inbox's settings, as pure functions."""

from __future__ import annotations

import pytest

from server.inbox import currency


@pytest.mark.parametrize(
    "setting, shown",
    [(None, "USD"), ("", "USD"), ("eur", "EUR"), (" GBP ", "GBP"), ("EURO", None), ("$", None)],
)
def test_the_currency_is_a_code_or_amounts_are_plain(monkeypatch, setting, shown):
    if setting is None:
        monkeypatch.delenv("HITL_CURRENCY", raising=False)
    else:
        monkeypatch.setenv("HITL_CURRENCY", setting)
    assert currency() == shown
