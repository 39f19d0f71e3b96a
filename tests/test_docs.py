"""Meta-tests: the docs and the tests keep up with the plugin contract.

Following datasette's ``tests/test_docs.py`` and ``test_plugin_hooks_have_tests``: every
hook in ``sdk.hookspecs`` has a section in ``docs/plugin_hooks.md`` headed by its exact
signature and at least one ``test_hook_<name>`` test; every public ``sdk`` name is
mentioned; the settings reference is generated from ``config.SETTINGS`` and current; and
the tutorial in ``docs/writing_plugins.md`` runs as written against the current CLI.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import config
import sdk
from host.cli.main import build_parser
from sdk import hookspecs
from tests.author_helpers import run_project_tests, running_dev
from tests.conftest import eventually

ROOT = Path(__file__).parent.parent
HOOKS_DOC = ROOT / "docs" / "plugin_hooks.md"
TUTORIAL = ROOT / "docs" / "writing_plugins.md"
SETTINGS_DOC = ROOT / "docs" / "settings.md"
TESTS = Path(__file__).parent
#: How to bring docs/settings.md up to date (config/schema.py has no ``__main__``).
REGENERATE_SETTINGS = (
    "python -c \"import config; print(config.settings_reference_markdown(), end='')\" "
    "> docs/settings.md"
)
#: A ``##`` heading that looks like a call signature documents a hook.
HOOK_HEADING = re.compile(r"^\w+\(.*\)$")


def hooks() -> dict[str, Callable[..., Any]]:
    """Every hookspec: the functions pluggy's marker tagged with ``ledhost_spec``."""
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return {
        name: value
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, marker)
    }


def signature(hook: Callable[..., Any]) -> str:
    """``name(arg, ...)`` as ``inspect.signature`` renders it, without annotations."""
    sig = inspect.signature(hook)
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    bare = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return f"{hook.__name__}{bare}"


def code_blocks(path: Path) -> list[tuple[str, int, str]]:
    """``(language, first line number, text)`` of every fenced block in a Markdown file."""
    blocks: list[tuple[str, int, str]] = []
    language: str | None = None
    start = 0
    lines: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if language is None and line.startswith("```"):
            language, start, lines = line[3:].strip(), number + 1, []
        elif language is not None and line.startswith("```"):
            blocks.append((language, start, "\n".join(lines) + "\n"))
            language = None
        elif language is not None:
            lines.append(line)
    assert language is None, f"{path.name}: a code block opened at line {start - 1} never ends"
    return blocks


def headings(path: Path) -> list[str]:
    """The text of every ``##`` heading outside code blocks."""
    found: list[str] = []
    in_code = False
    for line in path.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("## "):
            found.append(line[3:].strip())
    return found


def defined_test_names() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                names.add(node.name)
    return names


def test_hookspecs_are_found() -> None:
    """Verify the marker scan sees the hooks, so the tests below cannot pass vacuously."""
    assert {"register_modes", "render_frame", "teardown"} <= set(hooks())


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_section_headed_by_its_signature(name: str) -> None:
    expected = signature(hooks()[name])
    assert expected in headings(HOOKS_DOC), (
        f"docs/plugin_hooks.md has no section '## {expected}' for the hook {name!r}: "
        "add one, or update its heading if the signature changed"
    )


def test_no_section_documents_a_hook_that_does_not_exist() -> None:
    current = {signature(hook) for hook in hooks().values()}
    stale = [h for h in headings(HOOKS_DOC) if HOOK_HEADING.match(h) and h not in current]
    assert stale == [], f"docs/plugin_hooks.md documents hooks that do not exist: {stale}"


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_says_since_which_version_it_exists(name: str) -> None:
    """Verify the SDK's stability promise is checkable: docstring and doc name a version."""
    doc = hooks()[name].__doc__ or ""
    since = re.search(r"^\s*\.\. versionadded:: (\d+\.\d+)\s*$", doc, re.M)
    assert since, f"sdk.hookspecs.{name} has no '.. versionadded::' line in its docstring"
    section = HOOKS_DOC.read_text().split(f"## {signature(hooks()[name])}\n", 1)[1]
    first_paragraph = section.lstrip("\n").split("\n\n", 1)[0]
    assert first_paragraph == f"*Since {since.group(1)}.*", (
        f"docs/plugin_hooks.md's section for {name!r} must open with "
        f"'*Since {since.group(1)}.*', the version its docstring gives"
    )


def hook_tests() -> dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every ``test_hook_*`` function in tests/, by name."""
    found: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if node.name.startswith("test_hook_"):
                    found.setdefault(node.name, []).append(node)
    return found


def mentions(node: ast.AST, hook: str) -> bool:
    """Whether ``node``'s body names ``hook``: a call or attribute (``hook.render_frame``,
    ``runner.render_frame(...)``), a name, or a string (``"render_frame"``, a plugin's
    source, an expected log line)."""
    word = re.compile(rf"\b{re.escape(hook)}\b")
    for child in ast.walk(node):
        if child is node:
            continue
        if isinstance(child, ast.Attribute) and child.attr == hook:
            return True
        if isinstance(child, ast.Name) and child.id == hook:
            return True
        if isinstance(child, ast.Constant) and isinstance(child.value, str):
            if word.search(child.value):
                return True
    return False


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_has_a_test_that_exercises_it(name: str) -> None:
    """Verify each hook has a ``test_hook_<name>[_<edge>]`` test whose body names the
    hook (calls it, implements it in an inline plugin, or checks its call was logged):
    a test that only borrows the name does not count."""
    prefix = f"test_hook_{name}"
    tests = [
        node
        for test, nodes in hook_tests().items()
        if test == prefix or test.startswith(prefix + "_")
        for node in nodes
    ]
    assert tests, f"no test named {prefix} or {prefix}_<edge> in tests/ for the hook {name!r}"
    assert any(mentions(node, name) for node in tests), (
        f"the tests named {prefix}* never name the hook {name!r} in their body; "
        "call it or implement it there"
    )


def hook_section(name: str) -> str:
    text = HOOKS_DOC.read_text()
    _, _, rest = text.partition(f"\n## {signature(hooks()[name])}\n")
    return re.split(r"^## ", rest, maxsplit=1, flags=re.MULTILINE)[0]


@pytest.mark.parametrize("name", sorted(hooks()))
def test_every_hook_section_says_when_where_what_and_shows_an_example(name: str) -> None:
    """Verify each hook's section has the five parts STYLE.md asks for: when it is called,
    in which process, each argument, what to return, and a Python example implementing
    it (the examples are parsed by ``test_python_examples_parse``)."""
    section = hook_section(name)
    for label in ("**When:**", "**Process:**", "**Arguments:**", "**Returns:**"):
        assert label in section, f"docs/plugin_hooks.md, {name}: no {label} paragraph"
    arguments = section.split("**Arguments:**", 1)[1].split("**Returns:**", 1)[0]
    for param in inspect.signature(hooks()[name]).parameters:
        assert f"`{param}`" in arguments, (
            f"docs/plugin_hooks.md, {name}: argument `{param}` is not described "
            "under **Arguments:**"
        )
    examples = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert any(f"def {name}(" in code for code in examples), (
        f"docs/plugin_hooks.md, {name}: no ```python example that implements {name}"
    )


@pytest.mark.parametrize("name", sdk.__all__)
def test_every_public_sdk_name_is_mentioned_in_the_hooks_reference(name: str) -> None:
    assert re.search(rf"\b{re.escape(name)}\b", HOOKS_DOC.read_text()), (
        f"sdk.{name} is public (in sdk.__all__) but docs/plugin_hooks.md never mentions it"
    )


def test_settings_reference_is_generated_and_up_to_date() -> None:
    assert SETTINGS_DOC.exists() and (
        SETTINGS_DOC.read_text() == config.settings_reference_markdown()
    ), f"docs/settings.md is out of date; regenerate it with:\n  {REGENERATE_SETTINGS}"


@pytest.mark.parametrize(
    "setting",
    [*config.SETTINGS, *config.INSTANCE_SETTINGS],
    ids=lambda s: f"{s.section}.{s.name}",
)
def test_every_setting_is_documented(setting: config.Setting) -> None:
    text = SETTINGS_DOC.read_text()
    section = text.index(f"## `[{setting.section}]`")
    row = f"| `{setting.name}` |"
    assert row in text[section:].split("\n## ")[0], (
        f"{setting.section}.{setting.name} is missing from its section of docs/settings.md"
    )
    assert setting.env_var in text


@pytest.mark.parametrize("doc", [HOOKS_DOC, TUTORIAL], ids=lambda p: p.name)
def test_python_examples_parse(doc: Path) -> None:
    blocks = [(line, text) for language, line, text in code_blocks(doc) if language == "python"]
    assert blocks
    for line, text in blocks:
        try:
            ast.parse(text)
        except SyntaxError as exc:
            pytest.fail(f"{doc.name}: the python block at line {line} does not parse: {exc}")


# -- the tutorial, run as written ---------------------------------------------------------


def tutorial_files() -> dict[str, str]:
    """The files the tutorial spells out: blocks whose first line is ``# <path>``."""
    files: dict[str, str] = {}
    for _language, _line, text in code_blocks(TUTORIAL):
        first = text.split("\n", 1)[0]
        match = re.fullmatch(r"# ([\w./-]+\.(?:py|toml))", first)
        if match:
            files[match.group(1)] = text
    return files


def tutorial_commands() -> list[list[str]]:
    """The arguments of every ``$ ledhost ...`` line in the tutorial's console blocks."""
    commands = []
    for language, _line, text in code_blocks(TUTORIAL):
        if language == "console":
            for line in text.splitlines():
                if line.startswith("$ ledhost "):
                    commands.append(shlex.split(line[2:])[1:])
    return commands


def write_package(root: Path) -> Path:
    files = tutorial_files()
    package = root / "ledhost-myplugin"
    for name, text in files.items():
        if name.startswith(("ledhost_myplugin/", "tests/")) or name == "pyproject.toml":
            target = package / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    return package


def test_tutorial_spells_out_a_whole_package() -> None:
    files = tutorial_files()
    assert {
        "pyproject.toml",
        "ledhost_myplugin/__init__.py",
        "tests/test_myplugin.py",
        "ada.toml",
        "ledhost.toml",
    } <= set(files)
    project = tomllib.loads(files["pyproject.toml"])["project"]
    assert project["name"] == "ledhost-myplugin"
    assert project["entry-points"][sdk.ENTRY_POINT_GROUP] == {"myplugin": "ledhost_myplugin"}


def test_tutorial_package_passes_its_own_tests(tmp_path: Path) -> None:
    package = write_package(tmp_path)
    assert "3 passed" in run_project_tests(package, make_golden=True)


def test_tutorial_dev_preview_serves_a_frame(tmp_path: Path) -> None:
    """The tutorial's ``ledhost dev`` line, on a free 127.0.0.1 port: one frame, stopped."""
    (argv,) = [c for c in tutorial_commands() if c[0] == "dev"]
    assert argv[1] == "."
    package = write_package(tmp_path)
    width, height = (int(x) for x in _option(argv, "--size", "64x32").split("x"))
    with running_dev(package, *argv[2:], home=tmp_path) as dev:

        def drawn() -> bool:
            image = Image.open(io.BytesIO(dev.get("/api/dev/frame.png")))
            assert image.size == (width, height)
            return image.getbbox() is not None

        eventually(drawn, "the greeting in the preview's frame")
        assert dev.status()["plugin"] == "myplugin"
    assert dev.proc.returncode is not None


def test_tutorial_config_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ledhost.toml"
    path.write_text(tutorial_files()["ledhost.toml"])
    cfg = config.load_config(path, env={})
    assert cfg.plugins["myplugin"].options == {"name": "Ada"}


def test_tutorial_commands_run_with_the_current_cli(tmp_path: Path) -> None:
    """Verify every ``ledhost`` command parses, and render, plugins and check work on the
    package."""
    commands = tutorial_commands()
    assert {c[0] for c in commands} == {
        "plugin", "render", "plugins", "check", "run", "install", "dev"
    }  # fmt: skip
    parser = build_parser()
    for argv in commands:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"docs/writing_plugins.md: `ledhost {shlex.join(argv)}` does not parse")

    # Install the package the way pip would lay it out: the module beside a dist-info.
    package = write_package(tmp_path)
    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    site.mkdir()
    (site / "ledhost_myplugin").mkdir()
    (site / "ledhost_myplugin" / "__init__.py").write_text(
        (package / "ledhost_myplugin" / "__init__.py").read_text()
    )
    dist_info = site / f"ledhost_myplugin-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    entry_points = project["entry-points"][sdk.ENTRY_POINT_GROUP]
    (dist_info / "entry_points.txt").write_text(
        f"[{sdk.ENTRY_POINT_GROUP}]\n"
        + "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    )
    (tmp_path / "ada.toml").write_text(tutorial_files()["ada.toml"])

    # ``dev`` runs in test_tutorial_dev_preview_serves_a_frame.
    runnable = [argv for argv in commands if argv[0] in ("render", "plugins")]
    # ``check .`` runs in the project folder; ``check`` of the wheel and ``install`` need
    # a built wheel: the journey test (tests/test_author_journey.py) runs those for real.
    checks = [argv for argv in commands if argv[0] == "check" and argv[1] == "."]
    assert checks
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "host",
                *argv,
                *(["--plugin-path", str(site)] if argv[0] != "check" else []),
            ],
            cwd=package if argv[0] == "check" else tmp_path,
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in runnable + checks
    ]
    for argv, process in zip(runnable + checks, processes, strict=True):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, f"ledhost {shlex.join(argv)}:\n{out}{err}"
        if argv[0] == "plugins" and "--json" in argv:
            rows = {row["id"]: row for row in json.loads(out)}
            assert rows["myplugin"]["modes"] == ["greeting"]
            assert rows["myplugin"]["distribution"] == "ledhost-myplugin"
        elif argv[0] == "plugins":
            assert re.search(r"^myplugin\s+ledhost-myplugin 0\.1\.0 .*modes: greeting$", out, re.M)
        elif argv[0] == "check":
            assert out.splitlines()[-1] == "passed: no findings", out
        elif argv[0] == "render":
            image = Image.open(tmp_path / argv[argv.index("--out") + 1])
            width, height = (int(x) for x in _option(argv, "--size", "64x32").split("x"))
            scale = int(_option(argv, "--scale", "1"))
            assert image.size == (width * scale, height * scale), argv
            assert image.getbbox() is not None, f"{argv}: the image is black"


def test_tutorial_pyproject_is_what_plugin_new_writes(tmp_path: Path) -> None:
    """Verify the tutorial's ``pyproject.toml`` is the scaffold's, word for word."""
    (argv,) = [c for c in tutorial_commands() if c[0] == "plugin"]
    made = subprocess.run(
        [sys.executable, "-m", "host", *argv, "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    generated = (tmp_path / "ledhost-myplugin" / "pyproject.toml").read_text()
    assert tutorial_files()["pyproject.toml"] == "# pyproject.toml\n" + generated


def _option(argv: list[str], name: str, default: str) -> str:
    return argv[argv.index(name) + 1] if name in argv else default
