"""pyproject.toml: setuptools reads it without a warning (pip shows them at every install)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_setuptools_reads_the_metadata_without_a_warning():
    pytest.importorskip("setuptools", minversion="77")  # 77: the license as an SPDX expression
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dist = apply_configuration(Distribution(), ROOT / "pyproject.toml")
    assert dist.metadata.license_expression == "MIT"
