"""The sequencing matrix of brief 2.11 (sequencing.yaml) agrees with the rules that implement
it: every option a row lists is proposed by one of its rules (or named as a next line), and
every option a row calls not appropriate is avoided by one of its rules or by a check."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from netnav.knowledge.load import DATA_DIR, default_knowledge
from netnav.vocabulary import OPTION_IDS

MATRIX: list[dict[str, Any]] = yaml.safe_load((DATA_DIR / "sequencing.yaml").read_text("utf-8"))[
    "matrix"
]
KB = default_knowledge()
RULES = {r.spec.id: r.spec for r in KB.rules}
AVOIDED_BY_CHECK = {o for c in KB.checks if c.spec.effect == "avoid" for o in c.spec.options}


@pytest.mark.parametrize("row", MATRIX, ids=[r["situation"][:40] for r in MATRIX])
def test_matrix_row_matches_its_rules(row: dict[str, Any]) -> None:
    assert row["rules"], row["situation"]
    for rid in row["rules"]:
        assert rid in RULES, f"{row['situation']}: unknown rule {rid}"
    proposed = {
        o
        for rid in row["rules"]
        for o in [r.option for r in RULES[rid].recommend] + RULES[rid].at_progression
    }
    avoided = {a.option for rid in row["rules"] for a in RULES[rid].avoid} | AVOIDED_BY_CHECK
    for key in ("first_line", "second_line", "later"):
        for option in row[key]:
            assert option in OPTION_IDS
            assert option in proposed, f"{row['situation']}: {option} ({key}) not in its rules"
    for option in row["not_appropriate"]:
        assert option in avoided, f"{row['situation']}: {option} is not avoided by its rules"
