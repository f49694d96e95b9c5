"""Provider registry: which implementation serves each capability for this run."""

from __future__ import annotations

from typing import Any

from ..settings import CAPABILITIES, WorkflowConfig, provider_for


def get_provider(capability: str, cfg: WorkflowConfig) -> Any:
    """The provider object for `capability` (text, video, review, tts, image)."""
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability!r}; expected one of {CAPABILITIES}")
    name = provider_for(cfg, capability)
    if name == "offline":
        if capability == "text":
            from .offline_text import OfflineText

            return OfflineText()
        from . import offline

        return {
            "video": offline.OfflineVideo,
            "review": offline.OfflineReview,
            "tts": offline.OfflineTTS,
            "image": offline.OfflineImage,
        }[capability]()
    if name in ("bl", "wan27"):
        from . import dashscope

        return dashscope.make(capability, name, cfg)
    if name == "openai":
        from . import openai_compat

        return openai_compat.make(capability, cfg)
    raise ValueError(f"unknown provider {name!r}")
