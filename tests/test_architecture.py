"""The project's modules import each other without cycles."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.imports import import_cycles, import_graph, project_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workflows", "activities", "leadflow_domain", "models", "starter", "bench")
MODULES = ("worker",)


def test_modules_import_each_other_without_cycles() -> None:
    found = import_cycles(import_graph(project_modules(ROOT, PACKAGES, MODULES)))
    assert not found, "import cycles: " + "; ".join(sorted(found))


def test_a_deliberate_cycle_is_reported(tmp_path: Path) -> None:
    """Cycles through a function-level import, a `TYPE_CHECKING` import and relative imports,
    beside a package that re-exports its own modules (which is no cycle)."""
    files = {
        "shop/__init__.py": "",
        "shop/orders.py": "def total():\n    from shop.billing import invoice\n",
        "shop/billing.py": "import shop.orders\n\n\ndef invoice():\n    pass\n",
        "shop/stock.py": (
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from shop import pricing\n"
        ),
        "shop/pricing.py": "from .tax import rate\n",
        "shop/tax.py": "from . import stock\n",
        "shop/catalog/__init__.py": "from shop.catalog.items import Item\n",
        "shop/catalog/items.py": "from shop.catalog import base\n",
        "shop/catalog/base.py": "import json\n",
        "app.py": "import shop.catalog\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)

    found = import_cycles(import_graph(project_modules(tmp_path, ("shop",), ("app",))))
    assert found == {
        "shop.billing -> shop.orders -> shop.billing",
        "shop.pricing -> shop.tax -> shop.stock -> shop.pricing",
    }
