"""Provider registry: which implementation serves each capability for this run.

`get_provider` returns the capability's Protocol type (providers.base), so callers are
type-checked against the interface, never against one implementation. A provider module is
imported only when it is chosen (the offline build never loads the HTTP clients).
"""

from __future__ import annotations

from typing import Literal, overload

from ..settings import CAPABILITIES, WorkflowConfig, provider_for
from .base import ImageProvider, ReviewProvider, TextProvider, TTSProvider, VideoProvider

AnyProvider = TextProvider | VideoProvider | ReviewProvider | TTSProvider | ImageProvider


@overload
def get_provider(capability: Literal["text"], cfg: WorkflowConfig) -> TextProvider: ...
@overload
def get_provider(capability: Literal["video"], cfg: WorkflowConfig) -> VideoProvider: ...
@overload
def get_provider(capability: Literal["review"], cfg: WorkflowConfig) -> ReviewProvider: ...
@overload
def get_provider(capability: Literal["tts"], cfg: WorkflowConfig) -> TTSProvider: ...
@overload
def get_provider(capability: Literal["image"], cfg: WorkflowConfig) -> ImageProvider: ...
@overload
def get_provider(capability: str, cfg: WorkflowConfig) -> AnyProvider: ...


def get_provider(capability: str, cfg: WorkflowConfig) -> AnyProvider:
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
