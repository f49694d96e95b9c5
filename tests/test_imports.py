"""Imports flow one way, with no cycle and no sibling import hidden inside a function.

The layers are the package's folders, lowest first: a module imports only from its own
layer or below, and within a layer the graph stays acyclic. Which modules a layer holds is
read from the tree, so a new module goes into the folder of its layer (and a module at the
top of the package, in no layer, fails `test_every_module_sits_in_a_layer_folder`).

  base       the data model, paths, files, settings, prices: what every layer stands on
  media      ffmpeg plumbing and sound
  providers  the model services, and the spend, the limits and the slots of their calls
  roles      the creative roles with their prompts, the art department, the ACCEPT rule
  stages     one folder per stage: storyboard, render, stitch, gates, viewer
  workflow   what Snakemake runs: the jobs, the input checks, a build and its lock
  cli        the commands, the producer's autopilot, the import of an original project
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "spark_video"

LAYERS = [  # (layer, its folders under spark_video/), lowest first
    ("base", ["base"]),
    ("media", ["media"]),
    ("providers", ["providers"]),
    ("roles", ["roles"]),
    ("stages", ["storyboard", "render", "stitch", "gates", "viewer"]),
    ("workflow", ["workflow"]),
    ("cli", ["cli"]),
]
ORDER = [layer for layer, _ in LAYERS]
FOLDERS = {folder: layer for layer, folders in LAYERS for folder in folders}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def where_to_put(module: str) -> str:
    """Where a module that sits in no layer folder belongs: the lowest layer at or above
    every layer it imports from."""
    path = PKG / f"{module.replace('.', '/')}.py"
    top, late = sibling_imports(path) if path.exists() else (set(), set())
    heads = {t.split(".")[0] for t in top | late} & set(FOLDERS)
    rank = max((ORDER.index(FOLDERS[h]) for h in heads), default=0)
    layer, folders = LAYERS[rank]
    why = f", as it imports {', '.join(sorted(heads))}" if heads else ""
    return (f"spark_video/{module.replace('.', '/')}.py is in no layer folder: move it "
            f"(git mv) into {' or '.join(f'spark_video/{f}/' for f in folders)} (layer "
            f"{layer}, the lowest it may sit in{why}) or a higher layer's folder; a new "
            "folder is added to LAYERS in tests/test_imports.py")


def layer_of(module: str) -> str:
    head = module.split(".")[0]
    if module == "":
        return ORDER[0]  # the package's own __init__.py
    if head in FOLDERS:
        return FOLDERS[head]
    raise AssertionError(where_to_put(module))


def sibling_imports(path: Path) -> tuple[set[str], set[str]]:
    """(modules imported at module level, modules imported inside a function)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    top: set[str] = set()
    late: set[str] = set()

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name.removeprefix("spark_video.") for a in node.names
                    if a.name.startswith("spark_video.")]
        if not isinstance(node, ast.ImportFrom):
            return []
        if node.level == 0:
            if not (node.module or "").startswith("spark_video"):
                return []
            base = node.module.removeprefix("spark_video").lstrip(".")
        else:
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        out = []
        for alias in node.names:  # `from . import media` imports the submodule media
            sub = f"{base}.{alias.name}" if base else alias.name
            is_module = (PKG / sub.replace(".", "/")).with_suffix(".py").exists() or (
                PKG / sub.replace(".", "/")).is_dir()
            out.append(sub if is_module else base)
        return out

    def walk(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                       ast.Lambda))
            for t in targets(child):
                if t and t != module:
                    (late if in_function else top).add(t)
            walk(child, inside)

    walk(ast.parse(path.read_text(encoding="utf-8")), False)
    return top, late


def graph() -> dict[str, tuple[set[str], set[str]]]:
    return {module_name(p): sibling_imports(p) for p in sorted(PKG.rglob("*.py"))}


def test_imports_follow_the_layers():
    wrong = []
    for module, (top, late) in graph().items():
        rank = ORDER.index(layer_of(module))
        for target in sorted(top | late):
            if ORDER.index(layer_of(target)) > rank:
                wrong.append(f"{module} ({layer_of(module)}) imports {target} "
                             f"({layer_of(target)})")
    assert not wrong, "imports against the flow:\n" + "\n".join(wrong)


def test_no_import_cycle():
    g = {m: top for m, (top, _) in graph().items()}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            # a package's __init__ importing its own submodule is not a cycle back
            if state.get(t) == 1 and not m.startswith(f"{t}."):
                cycles.append(" -> ".join([*stack[stack.index(t):], t]))
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_sibling_import_inside_a_function():
    """Every sibling import sits at the top of its module: an import hidden in a function
    to dodge a cycle means the code is in the wrong layer. (The provider registry loads the
    chosen provider's module by name with importlib; see providers/__init__.py.)"""
    late = sorted((m, t) for m, (_, lt) in graph().items() for t in lt)
    assert not late, ("sibling imports inside functions (import at the top; if that makes a "
                      "cycle, the code is in the wrong layer):\n"
                      + "\n".join(f"{m} imports {t}" for m, t in late))


def test_every_module_sits_in_a_layer_folder():
    loose = [p.name for p in sorted(PKG.iterdir())
             if (p.suffix == ".py" and p.name != "__init__.py")
             or (p.is_dir() and p.name not in FOLDERS and any(p.rglob("*.py")))]
    assert not loose, "\n".join(
        where_to_put(n.removesuffix(".py")) if n.endswith(".py") else
        f"spark_video/{n}/ is no layer's folder: move its modules into one, or add it to "
        "LAYERS in tests/test_imports.py" for n in loose)


def test_the_checker_sees_late_imports_and_cycles(tmp_path, monkeypatch):
    pkg = tmp_path / "spark_video"
    for folder in ("base", "cli"):
        (pkg / folder).mkdir(parents=True)
        (pkg / folder / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "base" / "paths.py").write_text("from . import io\n")
    (pkg / "base" / "io.py").write_text(
        "def f():\n    from .paths import x\n\nfrom .paths import y\n")
    (pkg / "cli" / "main.py").write_text("import spark_video.base.io\n")
    monkeypatch.setattr(sys.modules[__name__], "PKG", pkg)
    g = graph()
    assert g["base.io"] == ({"base.paths"}, {"base.paths"})
    assert g["cli.main"] == ({"base.io"}, set())
    try:
        test_no_import_cycle()
    except AssertionError as e:
        assert "base.paths -> base.io -> base.paths" in str(e) or \
            "base.io -> base.paths -> base.io" in str(e)
    else:
        raise AssertionError("the cycle io <-> paths went unseen")
    (pkg / "base" / "io.py").write_text("from ..cli.main import main\n")
    try:
        test_imports_follow_the_layers()
    except AssertionError as e:
        assert "base.io (base) imports cli.main (cli)" in str(e)
    else:
        raise AssertionError("an upward import went unseen")
    test_every_module_sits_in_a_layer_folder()
    (pkg / "stray.py").write_text("from .cli import main\n")
    (pkg / "misc").mkdir()
    (pkg / "misc" / "x.py").write_text("")
    try:
        test_every_module_sits_in_a_layer_folder()
    except AssertionError as e:
        assert "spark_video/stray.py is in no layer folder: move it (git mv) into " \
            "spark_video/cli/ (layer cli" in str(e)
        assert "spark_video/misc/ is no layer's folder" in str(e)
    else:
        raise AssertionError("a module at the top of the package went unseen")


def test_no_reference_outside_the_repository():
    """Code cites no document a reader of the repository cannot open (state the rule, or
    put the text in docs/)."""
    import re

    root = PKG.parent
    cite = re.compile(r"SPEC §|\bSPEC\.md\b|reference/\w+\.md")
    files = [*PKG.rglob("*.py"), *PKG.rglob("*.j2"), *(root / "rules").glob("*.smk"),
             root / "Snakefile", *(root / "scripts").glob("*.py"), *(root / "tests").glob("*.py"),
             *(root / "profiles").rglob("*.yaml"), root / "README.md", *(root / "docs").rglob("*")]
    me = Path(__file__).resolve()
    found = [f"{p.relative_to(root)}:{n}" for p in files if p.is_file() and p.resolve() != me
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if cite.search(line)]
    assert not found, "citations of documents outside the repository: " + ", ".join(found)


def test_each_job_is_named_after_its_rule():
    """Every rule runs scripts/job.py, which runs the job named after the rule
    (spark_video.workflow.jobs.job_X for rule X). A rule keeps a script of its own only when that
    script holds real logic, never a one-line call into run()."""
    import re

    from spark_video.workflow.jobs import JOBS

    root = PKG.parent
    pairs = []
    for smk in sorted((root / "rules").glob("*.smk")):
        text = smk.read_text(encoding="utf-8")
        for m in re.finditer(r"^(?:rule|checkpoint) (\w+):(.*?)(?=^(?:rule|checkpoint) |\Z)",
                             text, re.M | re.S):
            script = re.search(r'script:\s*"\.\./scripts/(\w+)\.py"', m.group(2))
            if script:
                pairs.append((m.group(1), script.group(1)))
    assert len(pairs) >= 10
    wrong = [f"rule {rule}: no job_{rule} in spark_video/workflow/jobs.py" for rule, script in pairs
             if script == "job" and rule not in JOBS]
    for path in sorted((root / "scripts").glob("*.py")):
        body = path.read_text(encoding="utf-8")
        if path.name != "job.py" and re.search(r"^run\(snakemake", body, re.M):
            wrong.append(f"scripts/{path.name} only calls run(): point the rule's script: at "
                         "../scripts/job.py instead")
    assert "run(snakemake)" in (root / "scripts" / "job.py").read_text(encoding="utf-8")
    assert not wrong, "\n".join(wrong)
