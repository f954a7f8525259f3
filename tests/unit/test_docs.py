"""The documentation reads as a product's and stays in step with the code."""

from __future__ import annotations

import re
from pathlib import Path

from c360.tables import data_dictionary, gold_dictionary

REPO = Path(__file__).resolve().parents[2]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_the_data_dictionary_page_is_generated_from_the_registry():
    assert (REPO / "docs" / "tables.md").read_text() == data_dictionary(), \
        "docs/tables.md is stale: python -m c360.tables > docs/tables.md"
    assert (REPO / "docs" / "data-dictionary.md").read_text() == gold_dictionary(), \
        "docs/data-dictionary.md is stale: python -m c360.tables dictionary > docs/data-dictionary.md"


def test_the_readme_is_short_and_the_docs_speak_of_the_product_only():
    assert len((REPO / "README.md").read_text().splitlines()) <= 250
    for page in PAGES:
        text = page.read_text()
        assert not re.search(r"session [0-9]+", text, re.I), page.name
        assert "../shared" not in text, page.name


def test_every_link_between_pages_resolves():
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to {target}"
    nav = (REPO / "mkdocs.yml").read_text()
    for doc in (REPO / "docs").glob("*.md"):
        assert doc.name in nav, f"{doc.name} is not in mkdocs.yml's nav"
