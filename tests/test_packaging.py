"""The package's own metadata, as setuptools reads it."""

import warnings
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_license_is_in_the_form_setuptools_keeps_accepting():
    """Friction: setuptools warned at every install that `license = {text = "MIT"}` stops being accepted on
    2027-02-18; the SPDX string (PEP 639, setuptools >= 77) is the form it keeps."""
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        distribution = apply_configuration(Distribution(), PYPROJECT)
    assert not [w for w in caught if "license" in str(w.message).lower()]
    assert distribution.metadata.license_expression == "MIT"
