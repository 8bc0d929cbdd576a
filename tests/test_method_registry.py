"""The method registry: built-ins found by discovery (a new method is one file), a variant's kind declared by its
method, and aliases (`rac` is `sparsegpt@traces`): asking for both names is refused, since they are one variant."""

import json
import pkgutil

import pytest

from rac_bench import methods
from rac_bench.config_loader import build_config
from rac_bench.errors import ConfigError
from rac_bench.methods import SUPPORT_MODULES, available_methods, method_origin
from rac_bench.methods.base import COMPRESSED, DENSE, OUTSIDE
from rac_bench.methods.spec import parse_method_spec
from rac_bench.plan import build_plan


def test_every_module_of_the_package_but_its_support_modules_registers_a_method():
    modules = {f"rac_bench.methods.{m.name}" for m in pkgutil.iter_modules(methods.__path__)}
    modules -= {f"rac_bench.methods.{name}" for name in SUPPORT_MODULES}
    built_in = {method_origin(name).module for name in available_methods()} & modules
    assert built_in == modules


@pytest.mark.parametrize(
    "alias, same_as, canonical",
    [
        ("rac", "sparsegpt@traces", "sparsegpt@traces"),
        ("rac-wanda", "wanda@traces", "wanda@traces"),
        ("rac:w4", "sparsegpt:w4@traces", "sparsegpt:w4@traces"),
        ("rac@prompts", "sparsegpt", "sparsegpt@prompts"),
    ],
)
def test_an_alias_is_the_method_it_stands_for(alias, same_as, canonical):
    ours, theirs = parse_method_spec(alias), parse_method_spec(same_as)
    assert ours.canonical == theirs.canonical == canonical and ours.method is theirs.method
    assert ours.label == alias and ours.kind == COMPRESSED


def test_a_variants_kind_is_its_methods_declaration(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert parse_method_spec("dense").kind == DENSE
    assert parse_method_spec(f"q=checkpoint:{tmp_path / 'model'}").kind == OUTSIDE
    assert {parse_method_spec(name).kind for name in ("sparsegpt", "gptq:w4", "magnitude", "rac")} == {COMPRESSED}


def test_two_names_for_one_variant_are_refused_with_the_config(tmp_path):
    """`rac` is `sparsegpt@traces` under another name: asking for both would show one model twice (issue 32's rule
    for duplicate computations), so the config refuses it and names both."""
    with pytest.raises(ConfigError, match="'sparsegpt@traces' and 'rac', which are the same variant"):
        build_config(None, {"methods": "sparsegpt@traces,rac,wanda", "output_dir": tmp_path})
    plan = build_plan(build_config(None, {"methods": "rac,wanda,rac-wanda", "output_dir": tmp_path}))
    assert [variant.method for variant in plan.variants] == ["dense", "rac", "wanda", "rac-wanda"]


def test_a_run_asking_for_rac_and_sparsegpt_at_traces_exits_2_and_writes_nothing(tmp_path, capsys):
    from rac_bench.cli import main

    out, store = tmp_path / "out", tmp_path / "s.sqlite"
    argv = ["run", "--methods", "rac,sparsegpt@traces", "--limit", "4", "--output-dir", str(out)]
    assert main([*argv, "--cache-dir", str(tmp_path / "cache"), "--store", str(store)]) == 2
    assert "the same variant" in capsys.readouterr().err
    assert not out.exists() and not store.exists()
