"""What an MMLU question is, and which category each subject belongs to."""

from __future__ import annotations

from dataclasses import dataclass


LETTERS = "ABCD"


# The original MMLU release's subject -> category map (Hendrycks et al., categories.py).
CATEGORY_MAP = {
    "abstract_algebra": "STEM", "anatomy": "other", "astronomy": "STEM", "business_ethics": "other",
    "clinical_knowledge": "other", "college_biology": "STEM", "college_chemistry": "STEM",
    "college_computer_science": "STEM", "college_mathematics": "STEM", "college_medicine": "other",
    "college_physics": "STEM", "computer_security": "STEM", "conceptual_physics": "STEM",
    "econometrics": "social sciences", "electrical_engineering": "STEM", "elementary_mathematics": "STEM",
    "formal_logic": "humanities", "global_facts": "other", "high_school_biology": "STEM",
    "high_school_chemistry": "STEM", "high_school_computer_science": "STEM",
    "high_school_european_history": "humanities", "high_school_geography": "social sciences",
    "high_school_government_and_politics": "social sciences", "high_school_macroeconomics": "social sciences",
    "high_school_mathematics": "STEM", "high_school_microeconomics": "social sciences",
    "high_school_physics": "STEM", "high_school_psychology": "social sciences", "high_school_statistics": "STEM",
    "high_school_us_history": "humanities", "high_school_world_history": "humanities", "human_aging": "other",
    "human_sexuality": "social sciences", "international_law": "humanities", "jurisprudence": "humanities",
    "logical_fallacies": "humanities", "machine_learning": "STEM", "management": "other", "marketing": "other",
    "medical_genetics": "other", "miscellaneous": "other", "moral_disputes": "humanities",
    "moral_scenarios": "humanities", "nutrition": "other", "philosophy": "humanities", "prehistory": "humanities",
    "professional_accounting": "other", "professional_law": "humanities", "professional_medicine": "other",
    "professional_psychology": "social sciences", "public_relations": "social sciences",
    "security_studies": "social sciences", "sociology": "social sciences", "us_foreign_policy": "social sciences",
    "virology": "other", "world_religions": "humanities",
}


# lm-evaluation-harness differs in one place: anatomy counts as STEM there.
CATEGORY_MAP_LM_EVAL = {**CATEGORY_MAP, "anatomy": "STEM"}


def category_map(variant: str = "original") -> dict[str, str]:
    return CATEGORY_MAP_LM_EVAL if variant == "lm_eval" else CATEGORY_MAP


@dataclass(frozen=True)
class Question:
    subject: str
    index: int  # row in the subject's test file
    question: str
    choices: tuple[str, str, str, str]
    answer: str  # A-D
