"""The one thing pyproject.toml cannot say: package discovery plus the suites folder mapped in.

pyproject's ``packages.find`` and an explicit ``packages`` list exclude each other, so the mapped
``pytest_embedeval.suites`` (from the top-level ``suites/``) is appended to what discovery finds here.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["pytest_embedeval", "pytest_embedeval.*"]), "pytest_embedeval.suites"],
    package_dir={"pytest_embedeval.suites": "suites"},
)
