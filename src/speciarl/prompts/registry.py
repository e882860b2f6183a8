"""The VLM prompts: text files beside this module, or the user's own file, each with a content hash.

`get_prompt("be_specific")` or `get_prompt("my_prompt.txt")` → `Prompt(name, text, hash)`. The hash
(first 12 hex digits of the SHA-256 of the text) goes into every record, so editing a prompt can never be
mistaken for the old one (docs/method.md#lessons-from-the-reference-implementation: caches and results keyed on the prompt text, not its name).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import ConfigError

# In the order of docs/method.md#benchmarks: the base prompt, "be specific", then the five prompt-engineering baselines.
BUILTIN = (
    "base",
    "be_specific",
    "calibrated",
    "elimination",
    "high_precision",
    "max_correctness",
    "max_specificity",
)


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str
    hash: str

    @classmethod
    def from_text(cls, name: str, text: str) -> Prompt:
        text = text.strip()
        if not text:
            raise ConfigError(f"prompt {name!r} is empty")
        return cls(name=name, text=text, hash=prompt_hash(text))

    def messages(self) -> list[dict[str, object]]:
        """One user turn: an image placeholder then the text (the TRL / transformers VLM chat format)."""
        return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": self.text}]}]


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def list_prompts() -> list[str]:
    return list(BUILTIN)


def get_prompt(name_or_path: str) -> Prompt:
    """A built-in prompt by name, or a UTF-8 text file by path (its name is the file stem)."""
    if name_or_path in BUILTIN:
        text = resources.files(__package__).joinpath(f"{name_or_path}.txt").read_text(encoding="utf-8")
        return Prompt.from_text(name_or_path, text)
    path = Path(name_or_path).expanduser()
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"prompt file {path}: not UTF-8 text ({exc})") from None
        prompt = Prompt.from_text(path.stem, text)
        if "<answer>" not in prompt.text:
            import warnings

            warnings.warn(
                f"prompt file {path} does not mention <answer> tags; answers will fail to parse "
                "unless the model adds them on its own",
                stacklevel=2,
            )
        return prompt
    raise ConfigError(
        f"unknown prompt {name_or_path!r}: not a built-in name ({', '.join(BUILTIN)}) nor an existing file"
    )
