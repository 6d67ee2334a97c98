"""The company tree: a company and everything below it (SPEC §2 scope)."""

from __future__ import annotations

from collections.abc import Mapping


def descendants(tree: Mapping[int, int | None], root_id: int) -> set[int]:
    """``root_id`` and every company below it, given company id -> parent id."""
    children: dict[int, list[int]] = {}
    for company_id, parent_id in tree.items():
        if parent_id is not None:
            children.setdefault(parent_id, []).append(company_id)
    found: set[int] = set()
    stack = [root_id]
    while stack:
        company_id = stack.pop()
        if company_id in found:  # a cycle in parent_id must not loop forever
            continue
        found.add(company_id)
        stack.extend(children.get(company_id, ()))
    return found
