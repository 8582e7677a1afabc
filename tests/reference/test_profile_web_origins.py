"""The profile refuses web origins that Cognito would refuse as callback URLs."""

from __future__ import annotations

import dataclasses

import pytest

from stacks.config import DEV, ConfigurationError


@pytest.mark.parametrize(
    "origin",
    ["http://app.example.org", "https://app.example.org/", "https://app.example.org/ui", "app"],
)
def test_a_web_origin_cognito_would_refuse_is_rejected_in_the_profile(origin: str):
    """Cognito accepts only HTTPS callback URLs, except http://localhost for testing."""
    with pytest.raises(ConfigurationError, match=r"web_origins has"):
        dataclasses.replace(DEV, web_origins=(origin,))


def test_https_and_localhost_origins_are_accepted():
    profile = dataclasses.replace(
        DEV, web_origins=("https://app.example.org", "http://localhost:5173")
    )
    assert profile.web_origins == ("https://app.example.org", "http://localhost:5173")
