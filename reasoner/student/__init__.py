"""The distilled student: routes a question to a rule pack and translates it into facts.

A saved student is a directory with ``config.json`` (network sizes, the action
vocabulary, the routes, the training record) and ``model.safetensors`` (the
trained weights, stored in float16). The pretrained encoder it builds on is
named in the config and loaded separately (see :mod:`reasoner.student.encoder`).

>>> student = StudentModel.load()                                   # doctest: +SKIP
>>> [c.facts for c in student.translate("Ann lies. Does Ann tell the truth?")][:1]  # doctest: +SKIP
['given("Ann",lie).\\nask("Ann").\\n']
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from reasoner.packs import Pack, load_packs
from reasoner.paths import MODEL_DIR, RULES_DIR
from reasoner.student.actions import ActionSpace
from reasoner.student.decoding import Candidate, SearchJob, beam_search_many
from reasoner.student.encoder import EncodedQuestion, PretrainedEncoder
from reasoner.student.model import Student, StudentConfig
from reasoner.student.rationale import RationaleModel
from reasoner.student.words import segment

NO_PACK = "none"
# Subdirectory of a saved student that holds the fallback's rationale model.
RATIONALE_SUBDIR = "rationale"
# Packs whose router probability is below this are not tried.
MIN_ROUTE_PROBABILITY = 0.05
MAX_ROUTES = 2


class ModelError(RuntimeError):
    """A saved student that is missing, incomplete or built for other packs."""


class StudentModel:
    def __init__(
        self,
        network: Student,
        space: ActionSpace,
        routes: list[str],
        encoder: PretrainedEncoder,
        info: dict | None = None,
        rationale: "RationaleModel | None" = None,
    ):
        self.network = network.eval()
        self._rationale = rationale
        self._rationale_dir: Path | None = None
        self.space = space
        self.routes = routes
        self.encoder = encoder
        self.info = info or {}

    @classmethod
    def create(cls, packs: dict[str, Pack], encoder: PretrainedEncoder, **sizes) -> "StudentModel":
        """Return an untrained student for ``packs``."""
        space = ActionSpace(packs.values())
        routes = space.pack_names + [NO_PACK]
        config = StudentConfig(
            vocab_size=len(space.vocab),
            slot_count=len(space.slots),
            pack_count=len(space.pack_names),
            route_count=len(routes),
            encoder_dim=encoder.dim,
            **{"slot_biases": True, **sizes},
        )
        return cls(Student(config), space, routes, encoder)

    @property
    def rationale(self) -> RationaleModel | None:
        """The fallback's rationale model, loaded from disk on first use, since a solver-verified result never needs it."""
        if self._rationale is None and self._rationale_dir is not None:
            directory, self._rationale_dir = self._rationale_dir, None
            try:
                self._rationale = RationaleModel.load(directory)
            except Exception as error:  # safetensors raises its own exception type
                raise _rationale_error(directory, error) from None
        return self._rationale

    @classmethod
    def load(
        cls, directory: Path = MODEL_DIR, base_model: Path | None = None, rules_dir: Path = RULES_DIR
    ) -> "StudentModel":
        config_path = directory / "config.json"
        weights_path = directory / "model.safetensors"
        if not config_path.is_file() or not weights_path.is_file():
            raise ModelError(
                f"no trained student in {directory} (config.json and model.safetensors); "
                "run `reason train` or pass --model DIR"
            )
        try:
            saved = json.loads(config_path.read_text(encoding="utf-8"))
            saved_packs = saved["space"]["packs"]
        except (ValueError, KeyError, TypeError) as error:  # JSON and UTF-8 errors are ValueErrors
            raise ModelError(f"{config_path} is not a student configuration ({type(error).__name__}: {error}); "
                             "run `reason train` again or pass --model DIR") from None
        packs = load_packs(rules_dir)
        missing = [name for name in saved_packs if name not in packs]
        if missing:
            raise ModelError(f"the student was trained for packs that are not in {rules_dir}: {', '.join(missing)}")
        space = ActionSpace(packs[name] for name in saved_packs)
        try:
            space.check_compatible(saved["space"])
        except ValueError as error:
            raise ModelError(str(error)) from None
        encoder = PretrainedEncoder(base_model)
        try:
            network = Student(StudentConfig(**saved["network"]))
            state = {name: tensor.float() for name, tensor in load_file(str(weights_path)).items()}
            network.load_state_dict(state, assign=True)
        except Exception as error:  # safetensors raises its own exception type
            raise ModelError(f"cannot load the student from {weights_path}: {error}; "
                             "run `reason train` again or pass --model DIR") from None
        student = cls(network, space, saved["routes"], encoder, saved.get("info", {}))
        student._rationale_dir = directory / RATIONALE_SUBDIR
        _check_rationale(student._rationale_dir)
        return student

    def save(self, directory: Path, info: dict | None = None) -> None:
        """Write config.json and model.safetensors (float16) into ``directory``, each atomically."""
        directory.mkdir(parents=True, exist_ok=True)
        if info is not None:
            self.info = info
        config = {
            "network": self.network.config.to_dict(),
            "space": self.space.to_dict(),
            "routes": self.routes,
            "base_model": self.encoder.path.name,
            "info": self.info,
        }
        state = {name: tensor.detach().to(torch.float16).contiguous() for name, tensor in self.network.state_dict().items()}
        temporary = directory / "model.safetensors.tmp"
        save_file(state, str(temporary))
        temporary.replace(directory / "model.safetensors")
        temporary = directory / "config.json.tmp"
        temporary.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary.replace(directory / "config.json")

    def encode(self, question: str) -> EncodedQuestion:
        return self.encoder.encode(question, segment(question))

    @torch.no_grad()
    def route(self, encoded: EncodedQuestion) -> list[tuple[str, float]]:
        """Return (route, probability) pairs, most probable first; a route is a pack name or ``none``."""
        probabilities = torch.softmax(self.network.route(encoded.pooled.unsqueeze(0))[0], dim=-1)
        ranked = sorted(zip(self.routes, probabilities.tolist()), key=lambda item: item[1], reverse=True)
        return ranked

    def translate(
        self,
        question: str,
        pack: str | None = None,
        beam_size: int = 6,
        encoded: EncodedQuestion | None = None,
        deadline: float | None = None,
    ) -> list[Candidate]:
        """Return candidate translations of ``question``, best first.

        Without ``pack``, the router picks up to two packs whose probability is
        at least 5 %; candidates of all of them are ranked together by their
        log probability, router included. Returns no candidates when the router
        sends the question to no pack. Decoding stops at ``deadline`` (a
        :func:`time.monotonic` value) with the candidates finished by then.
        """
        return self.translate_many([question], pack, beam_size, [encoded or self.encode(question)], deadline)[0]

    def translate_many(
        self,
        questions: list[str],
        pack: str | None = None,
        beam_size: int = 6,
        encoded: list[EncodedQuestion] | None = None,
        deadline: float | None = None,
    ) -> list[list[Candidate]]:
        """Translate several questions as :meth:`translate` does one, with their searches batched together.

        A batch costs little more model time than one question, so this raises
        throughput. Each question gets the candidates that :meth:`translate` would
        give it.
        """
        encoded = encoded or [self.encode(question) for question in questions]
        jobs: list[SearchJob] = []
        owners: list[int] = []
        for number, (question, states) in enumerate(zip(questions, encoded)):
            if pack is not None:
                if pack not in self.space.packs:
                    raise ModelError(f"the student was not trained for the pack {pack!r}")
                routes = [(pack, 1.0)]
            else:
                routes = [
                    (name, p) for name, p in self.route(states)[:MAX_ROUTES]
                    if name != NO_PACK and p >= MIN_ROUTE_PROBABILITY
                ]
            for name, probability in routes:
                jobs.append(SearchJob(self.space.packs[name], question, states, math.log(probability)))
                owners.append(number)
        found: list[list[Candidate]] = [[] for _ in questions]
        for owner, candidates in zip(owners, beam_search_many(self.network, self.space, jobs, beam_size, deadline)):
            found[owner] += candidates
        return [sorted(candidates, key=lambda c: c.score, reverse=True) for candidates in found]


def _check_rationale(directory: Path) -> None:
    """Raise ModelError when the rationale model in ``directory`` is unreadable; read only its header."""
    from safetensors import safe_open

    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        return
    try:
        json.loads(config_path.read_text(encoding="utf-8"))
        with safe_open(str(weights_path), framework="pt") as weights:
            weights.keys()
    except Exception as error:  # safetensors raises its own exception type
        raise _rationale_error(directory, error) from None


def _rationale_error(directory: Path, error: Exception) -> ModelError:
    return ModelError(f"cannot load the rationale model in {directory}: {error}; "
                      "run `reason train --part rationale` again")
