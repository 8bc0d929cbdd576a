"""What `rac-bench leaderboard` does once the CLI has parsed it: check the request before any work, read the
store's cells, render every chosen format (all before the first write), then write each: a document to its file
(temporary file, rename) or to the terminal, a directory format through its own writer."""

from __future__ import annotations

from pathlib import Path

from rac_bench.cells import CellSelector
from rac_bench.errors import ConfigError, StoreError
from rac_bench.files import unwritable_ancestor, write_atomic
from rac_bench.leaderboard.formats import Format, Leaderboard
from rac_bench.leaderboard.rows import Column


def check_request(formats: list[Format], columns: list[Column] | None, out: Path | None) -> None:
    """Refuse what cannot be written, before the store is read."""
    if columns is not None and not any(f.takes_columns for f in formats):
        taking = ", ".join(f.name for f in _all() if f.takes_columns)
        raise ConfigError(f"--columns applies to {taking}; the other formats show their own")
    directories = [f for f in formats if f.directory]
    if (len(formats) > 1 or directories) and out is None:
        raise ConfigError(
            "--format site and several formats need --out PATH (a site is written to the directory PATH, "
            "each other format to PATH.<extension>)"
        )
    if out is None:
        return
    blocked = unwritable_ancestor(out.parent)
    if blocked is not None:
        raise ConfigError(f"cannot write --out {out}: {blocked} is not a writable directory")
    for directory in directories:
        directory.check_out(out)
    if len(formats) == 1 and not directories and out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give a file path")


def _all() -> list[Format]:
    from rac_bench.leaderboard.formats import available_formats

    return list(available_formats().values())


def read_leaderboard(
    store_path: Path | None, selector: CellSelector, title: str, columns, formats: list[Format]
) -> Leaderboard:
    """The selected cells of the store, the commands that made them and, where a format needs them, examples."""
    from rac_bench.store import open_store

    store = open_store(store_path, read_only=True)
    try:
        cells = [cell for cell in store.latest_cells() if selector.matches(cell.identity)]
        if not cells:
            chosen = " for that selection" if selector else ""
            raise StoreError(f"store {store.path} holds no finished cells{chosen}")
        commands = store.commands({cell.run_id for cell in cells})
        wanted = any(f.needs_examples for f in formats)
        examples = {cell.key: store.examples(cell.key) for cell in cells} if wanted else {}
    finally:
        store.close()
    return Leaderboard(cells, title, commands, examples, columns)


def render_and_write(formats: list[Format], board: Leaderboard, out: Path | None) -> list[str]:
    """Render every format, then write each; returns what the terminal shows (a document without --out)."""
    rendered = {f.name: f.render(board if f.takes_columns else _without_columns(board)) for f in formats}
    shown = []
    for fmt in formats:
        output = rendered[fmt.name]
        if fmt.directory:
            fmt.write(out, output)
            pages = sum(name.endswith(".html") for name in output)
            shown.append(f"{fmt.name} written to {out}/ ({pages} pages; open index.html)\n")
        elif out is None:
            shown.append(output)
        else:
            path = out if len(formats) == 1 else out.with_name(f"{out.name}.{fmt.extension}")
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, output)
            shown.append(f"{fmt.name} leaderboard written to {path}\n")
    return shown


def _without_columns(board: Leaderboard) -> Leaderboard:
    return Leaderboard(board.cells, board.title, board.commands, board.examples, None)
