"""docs/pool.md stays true to the code: its knobs table is the one ``PoolConfig.knobs()`` renders.

Regenerate the table after changing a knob with ``python -m tests.test_pool_docs`` and paste
it over the old one in docs/pool.md.
"""

from __future__ import annotations

import pathlib
import re

from tuner.config import DEFAULT_MAX_WORKERS, MAX_WORKERS_LIMIT, Knob, PoolConfig

POOL_MD = pathlib.Path(__file__).resolve().parent.parent / "docs" / "pool.md"

HEADER = (
    "| knob | default | valid | searched by the tuner | unit | meaning |\n"
    "| --- | --- | --- | --- | --- | --- |"
)


def _default(knob: Knob) -> str:
    # max_workers' default and searched range depend on the machine: name the rule instead,
    # so the table is the same wherever it is generated.
    if knob.name == "max_workers" and knob.default == DEFAULT_MAX_WORKERS:
        return "usable CPUs"
    text = f"`{knob.default!r}`"
    if knob.unit == "bytes" and isinstance(knob.default, int) and knob.default % 2**20 == 0:
        text += f" ({knob.default // 2**20} MiB)"
    return text


def _searched(knob: Knob) -> str:
    if not knob.searched:
        return "no"
    if knob.kind == "choice":
        return "every choice"
    low, high = knob.search_range  # type: ignore[misc]  # numeric knobs have a range
    if knob.name == "max_workers" and high == min(4 * DEFAULT_MAX_WORKERS, MAX_WORKERS_LIMIT):
        text = f"{low}..min(4 × usable CPUs, {MAX_WORKERS_LIMIT})"
    else:
        text = f"{low}..{high}"
    return text + (", log scale" if knob.log_scale else "")


def render_knob_table() -> str:
    """The knobs table of docs/pool.md, one row per ``PoolConfig`` knob in field order."""
    rows = [
        f"| `{k.name}` | {_default(k)} | `{k.valid_text()}` | {_searched(k)} | {k.unit} | {k.doc} |"
        for k in PoolConfig.knobs()
    ]
    return "\n".join([HEADER, *rows])


def test_every_knob_is_in_the_pool_docs():
    text = POOL_MD.read_text()
    missing = [k.name for k in PoolConfig.knobs() if f"| `{k.name}` |" not in text]
    assert missing == [], f"docs/pool.md lacks knobs {missing}: python -m tests.test_pool_docs"


def test_the_knobs_table_is_what_the_code_declares():
    assert render_knob_table() in POOL_MD.read_text(), (
        "docs/pool.md's knobs table is stale: regenerate it with python -m tests.test_pool_docs"
    )


def test_the_pool_docs_link_the_protocol_and_hold_the_balancers():
    text = POOL_MD.read_text()
    assert "(protocol.md)" in text
    assert (POOL_MD.parent / "protocol.md").is_file()
    for name in PoolConfig.knob("balancer").choices:
        assert re.search(rf"^\| `{name}` \|", text, flags=re.M), name


if __name__ == "__main__":
    print(render_knob_table())
