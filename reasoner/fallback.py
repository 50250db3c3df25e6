"""The unverified route: the student's chain of thought when no translation is verified.

The rationale model (:mod:`reasoner.student.rationale`) writes a chain of
thought from the question, then picks the answer: among the options when the
question lists them, else by writing it. An answer from here is never
verified; the pipeline labels it so.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasoner.question import Question
from reasoner.student.encoder import EncodedQuestion

UNVERIFIED_NOTE = "unverified: the solver could not check this answer"


@dataclass
class FallbackAnswer:
    rationale: str
    answer: str | None


class Fallback:
    def __init__(self, student):
        self.student = student

    def answer(self, question: Question, encoded: EncodedQuestion, domain: tuple[str, ...] = ()) -> FallbackAnswer:
        """Write a chain of thought and pick the answer; ``domain`` lists answers for a question without options."""
        return self.answer_many([question], [encoded], [domain])[0]

    def answer_many(self, questions: list[Question], encoded: list[EncodedQuestion],
                    domains: list[tuple[str, ...]]) -> list[FallbackAnswer]:
        """Answer several questions as :meth:`answer` does one; their chains of thought are written as one batch."""
        writer = self.student.rationale
        if writer is None:
            missing = "the student has no rationale model, so it cannot answer without the solver"
            return [FallbackAnswer(missing, None) for _ in questions]
        return writer.answer_many(questions, encoded, domains)
