"""Fixtures the page tests share."""

from __future__ import annotations

import pytest


@pytest.fixture
def centre(make):
    aa101 = make.org("AA101", name="AA Dummy Centre A (CIC)")
    make.exams_officer(aa101)
    make.user(
        "donald@example.org",
        given_name="Donald",
        family_name="Duck",
        org=aa101,
        roles=("sfa.teacher",),
    )
    return aa101
