"""Mock mode has its own database file: without GATEHOUSE_DATABASE it never opens the normal
one, so real accounts never appear as its one-click, password-less sign-in buttons."""

from __future__ import annotations

import os
import runpy

import pytest
from flask import Flask

from app import create_app
from oauth.settings import BY_NAME
from tests.helpers import ROOT


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """create_app's instance folder, in tmp_path instead of the repository's."""
    folder = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(folder))
    return folder


@pytest.mark.parametrize(
    "mock, name", [(True, "gatehouse-mock.sqlite3"), (False, "gatehouse.sqlite3")]
)
def test_without_a_database_setting_mock_mode_uses_its_own_file(config, instance, mock, name):
    config.update(DATABASE="", MOCK=mock)
    assert create_app(config).config["DATABASE"] == str(instance / name)


def test_a_named_database_is_used_in_mock_mode_too(config, instance, tmp_path):
    config.update(DATABASE=str(tmp_path / "chosen.sqlite3"), MOCK=True)
    assert create_app(config).config["DATABASE"] == str(tmp_path / "chosen.sqlite3")


@pytest.mark.parametrize(
    "mock, name", [("1", "gatehouse-mock.sqlite3"), ("0", "gatehouse.sqlite3")]
)
def test_gunicorn_metrics_dir_sits_beside_the_same_database(monkeypatch, mock, name):
    for setting in BY_NAME:
        monkeypatch.delenv(f"GATEHOUSE_{setting}", raising=False)
    monkeypatch.setenv("GATEHOUSE_MOCK", mock)
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["metrics_dir"] == os.path.join(ROOT, "instance", name) + "-metrics"
