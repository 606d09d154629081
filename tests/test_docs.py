"""The user's guide: README.md is short and links every page of ``docs/``; the pages build with
``mkdocs build --strict`` (mkdocs.yml, nav listing every page); every command in the README's ``bash``
blocks runs as written, in a fresh workspace, except those that need a long job, a job or a server
(``LONG``, each with its reason)."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = sorted(p.name for p in DOCS.glob("*.md"))
MAX_README_LINES = 210

# Commands of the README not run here (matched on their first words), each with why.
LONG: dict[str, str] = {
    "make demo": "sets up .venv and runs a whole demo cycle (minutes)",
    "make test": "the test suite itself",
    "bistlab cycle run --horizons": "runs a cycle (minutes); `bistlab cycle run --help` is run instead",
    "bistlab report": "needs a finished cycle (`bistlab cycle run`, a long job)",
    "bistlab predict": "needs a trained cycle (`bistlab cycle run`, a long job)",
    "bistlab hyperopt start": "runs an LSTM hyperopt job (minutes)",
    "bistlab hyperopt status": "needs a hyperopt job (`bistlab hyperopt start`, a long job)",
    "bistlab hyperopt stop": "needs a running hyperopt job",
    "bistlab hyperopt resume": "needs a stopped hyperopt job",
    "bistlab hyperopt results": "needs a hyperopt job",
    "bistlab serve": "a server: runs until Ctrl-C",
    "bistlab dashboard": "a server: runs until Ctrl-C",
}

_ENV_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _bash_commands(text: str) -> list[str]:
    """Each command of the ``bash`` fenced blocks of a Markdown text (continued lines joined, comments dropped)."""
    commands: list[str] = []
    for block in re.findall(r"^```bash[ \t]*\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words:
                commands.append(shlex.join(words))
    return commands


def _skip_reason(command: str) -> str | None:
    words = shlex.split(command)
    for prefix, reason in LONG.items():
        head = shlex.split(prefix)
        if words[: len(head)] == head:
            return reason
    return None


README_COMMANDS = _bash_commands(README.read_text(encoding="utf-8"))
RUN = [c for c in README_COMMANDS if _skip_reason(c) is None]
SKIPPED = [c for c in README_COMMANDS if _skip_reason(c) is not None]


def _yahoo_csv(n: int, *, seed: int, turkish: bool = False) -> str:
    """A plausible daily series of ``n`` weekdays: Yahoo's export, or a Turkish-locale one (;, decimal comma)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.012, n)))
    open_ = close * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * 1.004
    low = np.minimum(open_, close) * 0.996
    volume = rng.integers(10_000, 1_000_000, n)
    dates = pd.bdate_range("2023-01-02", periods=n)
    if turkish:
        rows = ["Tarih;Şimdi;Açılış;Yüksek;Düşük;Hac.;Fark %"]
        for i, day in enumerate(dates):
            cells = [f"{x:.2f}".replace(".", ",") for x in (close[i], open_[i], high[i], low[i])]
            rows.append(";".join([f"{day:%d.%m.%Y}", *cells, f"{volume[i] / 1e6:.2f}M".replace(".", ","), "%0,10"]))
        return "\n".join(rows) + "\n"
    rows = ["Date,Close,High,Low,Open,Volume"]
    rows += [f"{d:%Y-%m-%d},{c:.4f},{h:.4f},{lo:.4f},{o:.4f},{v}"
             for d, c, h, lo, o, v in zip(dates, close, high, low, open_, volume)]
    return "\n".join(rows) + "\n"


def _write_inputs(ws: Path) -> None:
    """The files the README's import commands name, relative to the workspace they run in."""
    bist = ws.parent / "shared" / "data" / "bist"
    bist.mkdir(parents=True)
    (bist / "AKBNK.IS.csv").write_text(_yahoo_csv(150, seed=1))
    (bist / "GARAN.IS.csv").write_text(_yahoo_csv(150, seed=2))
    (ws / "my_prices").mkdir()
    (ws / "my_prices" / "ASELS.csv").write_text(_yahoo_csv(150, seed=3))
    import io

    import pandas as pd

    frame = pd.read_csv(io.StringIO(_yahoo_csv(150, seed=4)), parse_dates=["Date"])
    frame[["Date", "Open", "High", "Low", "Close", "Volume"]].to_parquet(ws / "THYAO.parquet", index=False)
    (ws / "matriks.csv").write_text(_yahoo_csv(150, seed=5, turkish=True), encoding="utf-8")


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    while words and _ENV_ASSIGNMENT.match(words[0]):
        words = words[1:]
    if words[0] == "bistlab":
        script = Path(sys.executable).with_name("bistlab")
        found = str(script) if script.exists() else shutil.which("bistlab")
        assert found, "the `bistlab` command is not installed beside this Python (pip install -e .)"
        words[0] = found
    elif words[0] in ("python", "python3"):
        words[0] = sys.executable
    return words


def test_the_guide_builds_with_mkdocs_strict(tmp_path: Path) -> None:
    if importlib.util.find_spec("mkdocs") is None:
        skip_or_fail("mkdocs is not installed: `pip install -e '.[test]'` brings it (CI installs it that way)")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    assert sorted(p.stem for p in site.glob("*.html") if p.stem not in ("404",)) == sorted(Path(p).stem for p in PAGES)


def test_the_readme_is_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines: move details into a page of docs/"


@pytest.mark.parametrize("page", PAGES)
def test_the_readme_links_every_page(page: str) -> None:
    assert f"](docs/{page})" in README.read_text(encoding="utf-8"), f"README.md does not link docs/{page}"


@pytest.mark.parametrize("page", PAGES)
def test_the_nav_lists_every_page(page: str) -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = [next(iter(entry.values())) if isinstance(entry, dict) else entry for entry in config["nav"]]
    assert page in listed, f"mkdocs.yml's nav does not list {page}"


@pytest.mark.parametrize("target", sorted(set(re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8")))))
def test_the_readme_links_resolve(target: str) -> None:
    assert (ROOT / target).exists(), f"README.md links {target}, which does not exist"


def test_every_skipped_command_is_in_the_readme() -> None:
    def listed(prefix: str) -> bool:
        head = shlex.split(prefix)
        return any(shlex.split(c)[: len(head)] == head for c in README_COMMANDS)

    assert [p for p in LONG if not listed(p)] == [], "LONG lists commands the README no longer has"
    assert RUN, "no command of the README's bash blocks was found to run"


@pytest.mark.parametrize("command", SKIPPED)
def test_a_long_readme_command_is_skipped_with_its_reason(command: str) -> None:
    pytest.skip(f"{command!r}: {_skip_reason(command)}")


@pytest.mark.parametrize("command", RUN)
def test_a_readme_command_runs_as_written(command: str, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    _write_inputs(ws)
    env = {k: v for k, v in os.environ.items()
           if k not in ("BISTLAB_DB_URL", "BISTLAB_OPTUNA_URL", "BISTLAB_FAULT", "BISTLAB_STEP_FAULT")}
    env["BISTLAB_WORKSPACE"] = str(ws)
    result = subprocess.run(_argv(command), cwd=ws, env=env, capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{command!r} exited {result.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
