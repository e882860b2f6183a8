"""VLM prompts as text files with a registry: `get_prompt(name_or_path)`, `list_prompts()`."""

from .registry import BUILTIN, Prompt, get_prompt, list_prompts, prompt_hash

__all__ = ["BUILTIN", "Prompt", "get_prompt", "list_prompts", "prompt_hash"]
