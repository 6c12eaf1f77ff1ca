"""The app's modules import one way: no module imports one that imports it back.

Read off the source, imports inside functions included: such an import only postpones a
cycle to the first call, so ``conf`` (read by nearly every module) and the outbox and its
kick (the dispatch task runs the outbox) must not be part of one, even that way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import helpdesk_sms

PACKAGE = Path(helpdesk_sms.__file__).parent


def module_name(path: Path) -> str:
    parts = ("helpdesk_sms", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path
    for path in PACKAGE.rglob("*.py")
    if "migrations" not in path.relative_to(PACKAGE).parts
}


def imported(name: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The app's modules one import statement of module ``name`` loads."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        targets = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
            for alias in node.names
        ]
    found = set()
    for target in targets:
        while target and target not in MODULES:
            target = target.rpartition(".")[0]
        if target and not name.startswith(f"{target}.") and target != name:
            found.add(target)  # its own packages are loaded before a module, never by it
    return found


def imports(name: str, *, deferred: bool) -> set[str]:
    """The app's modules ``name`` imports when loaded (``deferred``: or in any function)."""
    found: set[str] = set()

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.update(imported(name, child))
            elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # for type checkers only, never run
            elif deferred or not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                walk(child)

    walk(ast.parse(MODULES[name].read_text()))
    return found


def cycle_through(start: str, *, deferred: bool) -> list[str]:
    """An import chain from ``start`` back to it, or [] when there is none."""
    chains = [[start]]
    seen = {start}
    while chains:
        chain = chains.pop()
        for target in sorted(imports(chain[-1], deferred=deferred)):
            if target == start:
                return [*chain, start]
            if target not in seen:
                seen.add(target)
                chains.append([*chain, target])
    return []


def test_conf_imports_nothing_from_the_app():
    assert imports("helpdesk_sms.conf", deferred=True) == set()


@pytest.mark.parametrize(
    "module",
    ["helpdesk_sms.conf", "helpdesk_sms.kick", "helpdesk_sms.tasks", "helpdesk_sms.outbox"],
)
def test_no_import_even_inside_a_function_leads_back(module):
    chain = cycle_through(module, deferred=True)
    assert not chain, " -> ".join(chain)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_one_that_imports_it_back_when_loaded(module):
    chain = cycle_through(module, deferred=False)
    assert not chain, " -> ".join(chain)
