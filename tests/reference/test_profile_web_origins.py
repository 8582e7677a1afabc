"""The profile refuses web origins and sign-in domain prefixes that Cognito would refuse."""

from __future__ import annotations

import dataclasses

import pytest

from stacks.config import DEV, PROFILES, ConfigurationError


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


@pytest.mark.parametrize(
    "prefix",
    ["", "-payments", "payments-", "Payments", "pay_ments", "my-aws-payments", "a" * 64],
)
def test_a_sign_in_domain_prefix_cognito_would_refuse_is_rejected_in_the_profile(prefix: str):
    """Cognito's prefix domains: lowercase letters, digits and hyphens, at most 63, no
    leading or trailing hyphen, and none of the reserved words aws, amazon, cognito."""
    with pytest.raises(ConfigurationError, match=r"auth_domain_prefix is"):
        dataclasses.replace(DEV, auth_domain_prefix=prefix)


def test_the_profiles_sign_in_domain_prefixes_are_accepted_and_distinct():
    prefixes = [profile.auth_domain_prefix for profile in PROFILES.values()]
    assert len(set(prefixes)) == len(prefixes)  # one domain per environment
    assert dataclasses.replace(DEV, auth_domain_prefix="a" * 63).auth_domain_prefix == "a" * 63
