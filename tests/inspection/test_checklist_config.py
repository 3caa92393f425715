"""Checklist files: the defaults load; a malformed file is refused with its file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockstation.config import ConfigError, load_bench_config, package_config_dir
from dockstation.inspection import KNOWN_FLAGS, load_checklists
from dockstation.inspection import checklist as checklist_module

DEFAULTS = {"phones", "laptops", "headphones", "apparel", "footwear", "home", "health_beauty", "toys", "generic"}


def codes(home: Path):
    return load_bench_config(home).codes


def site_file(home: Path, name: str, text: str, layer: str = "") -> Path:
    folder = home / "config" / layer / "categories" if layer else home / "config" / "categories"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def refused(home: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_checklists(home, codes(home))
    return info.value


def test_the_default_checklists_load_with_a_version_and_known_flags(home):
    cls = load_checklists(home, codes(home))
    assert set(cls.by_key) == DEFAULTS
    for cl in cls.by_key.values():
        assert cl.version and 4 <= len(cl.steps) <= 10  # short: graders skip long SOPs
        for step in cl.steps:
            flags = [*step.on_fail.flags, *[f for o in step.options for f in o.flags]]
            assert set(flags) <= set(KNOWN_FLAGS), (cl.key, step.id)
    assert (package_config_dir() / "categories" / "generic.toml").is_file()


def test_a_bad_grade_cap_names_file_key_and_reason(home):
    path = site_file(home, "phones.toml", '[[steps]]\nid = "x"\nprompt = "X?"\nkind = "check"\n'
                                          'on_fail = { grade_cap = "Z" }\n')
    err = refused(home)
    assert err.file == str(path)
    assert err.key == "steps.0.on_fail.grade_cap"
    assert "'Z' is not in the grade scale" in err.reason and "A, B, C, D, F" in err.reason
    assert str(path) in str(err)


@pytest.mark.parametrize("text, key, reason", [
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "verify"\n', "steps.0.kind", "Input should be"),
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "scan"\n', "steps.0", "needs `value`"),
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "check"\nretries = 3\n',
     "steps.0.retries", "Extra inputs are not permitted"),
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "check"\n'
     '[[steps]]\nid = "a"\nprompt = "B?"\nkind = "check"\n', "steps", "step ids repeat"),
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "choice"\n'
     'options = [{ key = "x", label = "X" }]\n', "steps.0", "at least two options"),
    ('version = "1"\ntitle = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "check"\n'
     'on_fail = { flags = ["Bad Flag"] }\n', "steps.0.on_fail.flags.0", "should match pattern"),
    ('title = "T"\n[[steps]]\nid = "a"\nprompt = "A?"\nkind = "check"\n', "version", "Field required"),
    ('version = "1"\ntitle = "T"\nsteps = []\n', "steps", "at least 1 item"),
])
def test_malformed_new_checklist_is_refused(home, text, key, reason):
    path = site_file(home, "garden.toml", text)
    err = refused(home)
    assert (err.file, err.key) == (str(path), key)
    assert reason in err.reason


def test_not_toml_is_refused_with_the_file(home):
    path = site_file(home, "toys.toml", "version = \n")
    err = refused(home)
    assert err.file == str(path) and "not valid TOML" in err.reason


def test_a_site_override_replaces_steps_and_keeps_the_rest(home):
    site_file(home, "toys.toml", 'version = "site-2"\n[[steps]]\nid = "ok"\nprompt = "OK?"\nkind = "check"\n')
    toys = load_checklists(home, codes(home)).get("toys")
    assert toys.version == "site-2" and [s.id for s in toys.steps] == ["ok"]
    assert toys.title == "Toys" and "games" in toys.categories  # tables merge, arrays replace


def test_hq_layer_is_blamed_for_its_own_bad_key(home):
    site_file(home, "toys.toml", 'version = "site-2"\n')
    path = site_file(home, "toys.toml", 'title = ""\n', layer="hq")
    err = refused(home)
    assert (err.file, err.key) == (str(path), "title")


def test_a_category_claimed_twice_is_refused(home):
    path = site_file(home, "tablets.toml", 'version = "1"\ntitle = "Tablets"\ncategories = ["ipads", "phones"]\n'
                                           '[[steps]]\nid = "a"\nprompt = "A?"\nkind = "check"\n')
    err = refused(home)
    assert (err.file, err.key) == (str(path), "categories.1")
    assert "already served by phones.toml" in err.reason


def test_a_bad_file_name_and_a_key_in_the_file_are_refused(home):
    path = site_file(home, "Big Box.toml", 'version = "1"\n')
    err = refused(home)
    assert err.file == str(path) and "lower_snake" in err.reason
    path.unlink()
    path = site_file(home, "toys.toml", 'key = "games"\n')
    err = refused(home)
    assert (err.file, err.key) == (str(path), "key")


def test_without_the_generic_checklist_nothing_loads(home, tmp_path, monkeypatch):
    only = tmp_path / "pkg"
    (only / "categories").mkdir(parents=True)
    (only / "categories" / "toys.toml").write_text((package_config_dir() / "categories" / "toys.toml").read_text())
    monkeypatch.setattr(checklist_module, "layer_dirs", lambda home: [only])
    err = refused(home)
    assert err.file.endswith("generic.toml") and "generic checklist" in err.reason


def test_a_refused_edit_keeps_the_last_good_checklists(home):
    from dockstation.inspection import load_or_last_good

    good, warning = load_or_last_good(home, codes(home))
    assert good is not None and warning == ""
    site_file(home, "toys.toml", 'version = ""\n')
    kept, warning = load_or_last_good(home, codes(home))
    assert kept is good and "toys.toml: version:" in warning
