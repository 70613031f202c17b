"""The bundled command table loads and is internally consistent."""

from __future__ import annotations

from nativeapi.spec import load_commands


def test_table_loads_without_the_about_note() -> None:
    table = load_commands()
    assert len(table) > 200
    assert "_about" not in table
    assert load_commands() is table  # parsed once


def test_entries_have_the_fields_the_registry_reads() -> None:
    for name, entry in load_commands().items():
        assert entry["style"] in {"sync", "async", "async-create"}, name
        assert entry["async_"] == (entry["style"] != "sync"), name
        assert entry["responsekey"].endswith("response"), name
        assert isinstance(entry["required"], dict), name
        assert isinstance(entry["optional"], dict), name
        assert isinstance(entry["listshaped"], bool), name


def test_known_facts() -> None:
    table = load_commands()
    assert table["deployVirtualMachine"]["style"] == "async-create"
    assert table["deployVirtualMachine"]["itemkey"] == "virtualmachine"
    assert table["listAsyncJobs"]["itemkey"] == "asyncjobs"
    assert table["addHost"]["listshaped"] is True
    assert table["deleteVolume"]["style"] == "sync"
