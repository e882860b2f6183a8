"""`speciarl export`: a LoRA run → one full model folder the eval backends load (transformers, vLLM).

The base model is the one the run recorded (`speciarl_run.json`), else the adapter's own
`base_model_name_or_path`, else `--base`. The processor is saved beside the weights so the folder is
self-contained.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .run import RUN_INFO


def _base_model(adapter: Path, base: str | None) -> str:
    if base:
        return base
    for folder in (adapter, adapter.parent):
        info = folder / RUN_INFO
        if info.is_file():
            return json.loads(info.read_text(encoding="utf-8"))["base_model"]
    recorded = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("base_model_name_or_path")
    if not recorded:
        raise ConfigError(f"{adapter}: no base model recorded; pass --base")
    return recorded


def export_merged(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None,
                  dtype: str = "auto") -> Path:
    """Merge the adapter in `adapter_dir` into its base model and save model + processor to `out_dir`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForImageTextToText

    from ..models.tiny import load_processor

    adapter, out = Path(adapter_dir), Path(out_dir)
    if not (adapter / "adapter_config.json").is_file():
        raise ConfigError(f"{adapter}: no adapter_config.json; a full fine-tune output is already a model folder")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} is not empty; choose a new folder")
    base_path = _base_model(adapter, base)
    torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype, None)
    if torch_dtype is None:
        raise ConfigError(f"unknown dtype {dtype!r}")
    model = AutoModelForImageTextToText.from_pretrained(base_path, dtype=torch_dtype)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.save_pretrained(out)
    processor_source = adapter if (adapter / "tokenizer_config.json").is_file() else Path(base_path)
    load_processor(processor_source if processor_source.exists() else base_path).save_pretrained(out)
    return out
