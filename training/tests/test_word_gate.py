"""The word gate's Python twin (mmamba.bpe.contains_word) on the cases the TypeScript gate is tested on
(tests/fixtures/word_gate_cases.json; src/finetune/word_gate.ts containsWord, tests/word_gate.test.ts)."""

import json
from pathlib import Path

from mmamba.bpe import contains_word

CASES = json.loads((Path(__file__).resolve().parents[2] / "tests/fixtures/word_gate_cases.json").read_text("utf-8"))


def test_shared_cases():
    cases = CASES["cases"]
    assert len(cases) >= 20
    for c in cases:
        assert contains_word(c["text"], c["word"]) is c["contains"], c


def test_cases_cover_the_issue():
    """Punctuation and a possessive hold the word; the plural is another word (one longer letter run)."""
    by_text = {c["text"]: c["contains"] for c in CASES["cases"] if c["word"] == "zorblat"}
    assert by_text["Zorblat!"] and by_text["a zorblat's hat"] and not by_text["zorblats"]
