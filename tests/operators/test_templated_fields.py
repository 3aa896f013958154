"""Every templated field of every operator and sensor is stored unchanged in ``__init__``.

Airflow renders ``template_fields`` after ``__init__`` has run; a field converted there (``list(x)``,
``x or default``, a check) is converted before rendering, so ``stages="{{ params.stage }}"`` became
one stage per character. Airflow's own CI checks its providers the same way: each templated field
must be assigned from the ``__init__`` parameter of the same name, as it is, and nowhere else there.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from typing import Any

import pytest

import airflow_provider_ango.operators
import airflow_provider_ango.sensors


def _provider_classes() -> list[type[Any]]:
    from airflow.sdk import BaseOperator

    found: dict[str, type[Any]] = {}
    for package in (airflow_provider_ango.operators, airflow_provider_ango.sensors):
        for module_info in pkgutil.iter_modules(package.__path__, f"{package.__name__}."):
            module = importlib.import_module(module_info.name)
            for _name, value in inspect.getmembers(module, inspect.isclass):
                mine = issubclass(value, BaseOperator) and value.__module__ == module.__name__
                if mine and not inspect.isabstract(value):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _init_assignments(cls: type[Any]) -> dict[str, list[ast.AST]]:
    """``self.<attr> = <value>`` (and augmented or annotated forms) in the ``__init__`` of ``cls`` and
    of its provider base classes, by attribute."""
    assignments: dict[str, list[ast.AST]] = {}
    for klass in cls.__mro__:
        if not klass.__module__.startswith("airflow_provider_ango") or "__init__" not in vars(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass.__init__)))
        for node in ast.walk(tree):
            targets: list[ast.expr] = []
            value: ast.AST | None = None
            if isinstance(node, ast.Assign):
                targets, value = node.targets, node.value
            elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
                targets, value = [node.target], node
            for target in targets:
                on_self = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                if on_self and target.value.id == "self":  # type: ignore[attr-defined]
                    assignments.setdefault(target.attr, []).append(value or node)  # type: ignore[attr-defined]
    return assignments


CLASSES = _provider_classes()


def test_the_walk_finds_every_operator_and_sensor() -> None:
    names = {cls.__name__ for cls in CLASSES}
    assert {
        "AngoBuildImportOperator",
        "AngoImportAssetsOperator",
        "AngoImportLabelsOperator",
        "AngoTriggerExportOperator",
        "AngoLandExportOperator",
        "AngoAssetsImportedSensor",
        "AngoTaskStageSensor",
    } <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_templated_fields_are_assigned_unchanged_in_init(cls: type[Any]) -> None:
    parameters = set(inspect.signature(cls.__init__).parameters)
    assignments = _init_assignments(cls)
    problems = []
    for field in cls.template_fields:
        if field not in parameters:
            problems.append(f"{field}: not a parameter of __init__")
            continue
        values = assignments.get(field, [])
        if len(values) != 1:
            problems.append(f"{field}: assigned {len(values)} times in __init__ (want exactly once)")
            continue
        (value,) = values
        if not (isinstance(value, ast.Name) and value.id == field):
            problems.append(f"{field}: assigned {ast.unparse(value)!r}, not the parameter {field!r} as it is")
    assert not problems, f"{cls.__name__}: " + "; ".join(problems)


def test_the_check_catches_a_conversion_in_init() -> None:
    """The check itself: a field converted in ``__init__`` (the bug it guards against) is reported."""
    from airflow.sdk import BaseOperator

    class Converting(BaseOperator):
        template_fields = ("stages",)

        def __init__(self, *, stages: list[str], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.stages = list(stages)

    Converting.__module__ = "airflow_provider_ango.operators.fake"
    with pytest.raises(AssertionError, match=r"stages: assigned 'list\(stages\)'"):
        test_templated_fields_are_assigned_unchanged_in_init(Converting)
