"""Maps the SPEC's folder tree (src/core, src/connectors) onto the import package `leadsync`."""

from setuptools import find_packages, setup

setup(packages=["leadsync"] + [f"leadsync.{name}" for name in find_packages("src")])
