"""mmamba/everyday_concepts.py: every everyday prompt has concepts, and they are concepts of the ruler's label set."""

import os

import pytest
import torch
from mmamba.data import DEMO_CONCEPTS
from mmamba.everyday_concepts import EVERYDAY_CONCEPTS
from sample_grid import EVERYDAY_PROMPTS

RULER = os.path.join(os.path.dirname(__file__), "..", "ruler", "evaluators.pt")


def test_every_everyday_prompt_is_mapped():
    assert list(EVERYDAY_CONCEPTS) == list(EVERYDAY_PROMPTS)


def test_named_concept_is_the_datasets_kept_one():
    """The first concept of each prompt is one the dataset keeps in training for these prompts."""
    assert [c[0] for c in EVERYDAY_CONCEPTS.values()] == [
        "apple", "rocket", "pizza", "snowman", "coffee", "thumbs up", "cat face", "dog",
        "star", "house", "tree", "car", "fish", "birthday cake", "sun", "heart",
    ]  # fmt: skip
    assert {c[0] for c in EVERYDAY_CONCEPTS.values()} - {"birthday cake"} <= DEMO_CONCEPTS


def test_no_concept_is_listed_twice():
    names = [n for c in EVERYDAY_CONCEPTS.values() for n in c]
    assert len(names) == len(set(names))


def test_concepts_exist_in_the_rulers_label_set():
    if not os.path.exists(RULER):
        pytest.skip("training/ruler/evaluators.pt not in this checkout")
    labels = set(torch.load(RULER, map_location="cpu", weights_only=True)["concepts"])
    assert len(labels) == 5099
    missing = {p: [n for n in c if n not in labels] for p, c in EVERYDAY_CONCEPTS.items()}
    assert not any(missing.values()), missing
