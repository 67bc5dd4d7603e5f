"""When the pytest plugin cannot start Gatehouse, it says why: the command it ran and the end of
that command's output, instead of a bare CalledProcessError."""

from __future__ import annotations

import shlex
import venv

import pytest


@pytest.fixture
def plugin():
    """gatehouse_pytest, imported at run time: tests/test_outside_project.py loads it as a
    plugin, and pytest can only rewrite its asserts if nothing imported it while collecting."""
    import gatehouse_pytest

    return gatehouse_pytest


def test_a_python_without_flask_is_named_with_its_error(plugin, tmp_path, monkeypatch):
    venv.create(tmp_path / "bare", with_pip=False)  # a real interpreter, no Flask installed
    python = str(tmp_path / "bare" / "bin" / "python")
    monkeypatch.setenv("GATEHOUSE_PYTHON", python)
    with pytest.raises(plugin.GatehouseStartError) as failed:
        plugin.start_gatehouse(tmp_path)
    message = str(failed.value)
    assert "could not migrate its database" in message
    assert shlex.join([python, "-m", "flask", "--app", "app", "db", "upgrade"]) in message
    assert "No module named flask" in message


def test_a_server_that_exits_while_starting_shows_the_tail_of_its_output(
    plugin, tmp_path, monkeypatch
):
    # A stand-in interpreter: the migration succeeds, gunicorn writes 30 lines and exits 3.
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        'if [ "$2" = flask ]; then exit 0; fi\n'
        'for n in $(seq 1 29); do echo "noise $n" >&2; done\n'
        'echo "Error: Connection in use: (127.0.0.1, 8000)" >&2\n'
        "exit 3\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("GATEHOUSE_PYTHON", str(fake))
    with pytest.raises(plugin.GatehouseStartError) as failed:
        plugin.start_gatehouse(tmp_path)
    message = str(failed.value)
    assert "exited while starting" in message and "exited with status 3" in message
    serve = [str(fake), "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
    assert shlex.join(serve) in message
    assert message.endswith("Error: Connection in use: (127.0.0.1, 8000)")
    first_kept = 30 - plugin.OUTPUT_TAIL_LINES + 1  # the tail, not the whole output
    assert f"noise {first_kept}\n" in message
    assert f"noise {30 - plugin.OUTPUT_TAIL_LINES}\n" not in message
