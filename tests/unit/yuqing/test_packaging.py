"""What `pip install .` (no extras) needs: every runtime import is a declared dependency, the
extras stay lazy, the wheel carries the configs, demo and default models and leaves the
transformer models out, and `yuqing init` writes a set that passes `yuqing config check`."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from nlp.config import PACKAGED_MODELS_DIR
from yuqing.cli import EXIT_CONFIG, main
from yuqing.config import default_configs_dir, load_settings
from yuqing.office_init import CONFIG_FILES

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ["crawler", "nlp", "index", "warning", "yuqing"]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group()).lower()


BASE = {_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {_name(r) for reqs in PROJECT["optional-dependencies"].values() for r in reqs}


def _third_party_imports():
    """(distribution, file, at module level) for every import of a package outside the stdlib."""
    dists = importlib.metadata.packages_distributions()
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            top = {id(node) for node in tree.body}
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    roots = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    roots = [node.module.split(".")[0]]
                else:
                    continue
                for root in roots:
                    if root in sys.stdlib_module_names or root in PACKAGES or root == "__future__":
                        continue
                    where = f"{path.relative_to(REPO)}:{node.lineno}"
                    assert root in dists, f"{where}: `{root}` is imported but no installed distribution provides it"
                    yield _name(dists[root][0]), where, id(node) in top


def test_every_runtime_import_is_declared():
    undeclared = sorted({f"{dist} ({where})" for dist, where, _ in _third_party_imports()
                         if dist not in BASE | EXTRAS})
    assert not undeclared, f"imported but not in pyproject.toml dependencies: {undeclared}"


# Packages that are wholly one extra: they import it at module level, and nothing outside them imports
# them at module level (yuqing serve / yuqing run import the workbench inside the function that needs it).
EXTRA_PACKAGES = {"yuqing/web/": "web"}


def test_module_level_imports_need_no_extra():
    # elasticsearch, fastapi, torch … are extras: import them inside the function that needs them.
    extras = PROJECT["optional-dependencies"]
    eager = sorted({f"{dist} ({where})" for dist, where, top in _third_party_imports() if top and dist not in BASE
                    and not any(where.startswith(pkg) and dist in {_name(r) for r in extras[extra]}
                                for pkg, extra in EXTRA_PACKAGES.items())})
    assert not eager, f"module-level imports of optional dependencies: {eager}"


def test_nothing_imports_an_extras_package_at_module_level():
    extra_modules = tuple(pkg.rstrip("/").replace("/", ".") for pkg in EXTRA_PACKAGES)
    eager = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            rel = path.relative_to(REPO)
            if any(str(rel).startswith(pkg) for pkg in EXTRA_PACKAGES):
                continue
            package_parts = list(rel.parts[:-1])    # what a level-1 relative import is relative to
            for node in ast.parse(path.read_text("utf-8")).body:
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = package_parts[: len(package_parts) - node.level + 1] if node.level else []
                    names = [".".join([*base, *([node.module] if node.module else [])])]
                    names += [f"{names[0]}.{a.name}" for a in node.names]
                else:
                    continue
                if any(n == m or n.startswith(m + ".") for n in names for m in extra_modules):
                    eager.append(f"{rel}:{node.lineno}")
    assert not eager, f"module-level imports of a package that needs an extra: {eager}"


def test_html_cleaner_for_trafilatura_is_declared():
    assert "lxml-html-clean" in BASE      # lxml >= 5.2 moved lxml.html.clean out; trafilatura/justext need it
    import lxml.html.clean  # noqa: F401


def test_default_configs_and_models_are_found():
    assert (default_configs_dir() / "demo" / "app.yaml").is_file()
    for task in ("polarity", "sentiment", "emotion", "topic", "rumor"):
        assert (PACKAGED_MODELS_DIR / task / "config.json").is_file()
    settings = load_settings(default_configs_dir() / "app.yaml")
    assert settings.app.nlp.models_dir is None and settings.models_dir == PACKAGED_MODELS_DIR


def test_yuqing_init_writes_a_set_that_passes_config_check(tmp_path, capsys):
    office = tmp_path / "office"
    assert main(["init", str(office)]) == 0
    assert sorted(p.name for p in office.iterdir()) == sorted(CONFIG_FILES)
    assert (office / "rules.yaml").read_text("utf-8").startswith("# Written by `yuqing init`")
    assert main(["config", "check", "--config", str(office / "app.yaml")]) == 0
    assert "OK" in capsys.readouterr().out


def test_yuqing_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    (tmp_path / "rules.yaml").write_text("rules: []  # mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "rules.yaml" in err and "--force" in err
    assert (tmp_path / "rules.yaml").read_text("utf-8") == "rules: []  # mine\n"
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert "# mine" not in (tmp_path / "rules.yaml").read_text("utf-8")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    # Built from a copy: pip builds in place, and the checkout should not gain build/ and *.egg-info.
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    for name in ("configs", *PACKAGES):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(out)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.skip(f"could not build the wheel here: {build.stderr[-500:]}")
    return zipfile.ZipFile(next(out.glob("*.whl")))


def test_wheel_ships_configs_demo_and_default_models_but_no_transformers(wheel):
    names = set(wheel.namelist())
    for name in CONFIG_FILES:
        assert f"yuqing/configs/{name}" in names
    assert {"yuqing/configs/demo/app.yaml", "yuqing/configs/demo/sources.yaml", "yuqing/demo/corpus/posts.jsonl",
            "warning/reports/templates/briefing.html.j2", "warning/reports/geo/jiujiang-districts.geojson", "nlp/resources/gazetteer.tsv",
            "yuqing/web/templates/overview.html.j2", "yuqing/web/static/app.js", "yuqing/web/static/app.css"} <= names
    for task in ("polarity", "sentiment", "emotion", "topic", "rumor"):
        assert {f"nlp/models/{task}/config.json", f"nlp/models/{task}/weights.npz"} <= names
    assert not [n for n in names if "char-bert" in n or "-transformer/" in n or n.endswith(".safetensors")]
    assert not [n for n in names if n.split("/")[0] in {"configs", "models", "tests", "bench", "docs"}]
