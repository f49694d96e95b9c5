"""Provider registry: which implementation serves each capability for this run.

`get_provider` returns the capability's Protocol type (providers.base), so callers are
type-checked against the interface, never against one implementation. A provider module is
imported only when it is chosen (the offline build never loads the HTTP clients).
"""

from __future__ import annotations

import importlib
from typing import Literal, overload

from ..base.settings import CAPABILITIES, WorkflowConfig, provider_for
from .base import ImageProvider, ReviewProvider, TextProvider, TTSProvider, VideoProvider

# Provider name -> the module (in this package) whose `make(capability, name, cfg)` builds it.
# Named here as data and imported by importlib only when chosen: the HTTP providers' imports
# (httpx, TLS) cost about 0.3 s, and every Snakemake job is a new process, so an offline
# build must not pay that in each job. This is the one import made at call time.
MAKERS = {"offline": "offline", "bl": "dashscope", "wan27": "dashscope",
          "openai": "openai_compat"}

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
    if name not in MAKERS:
        raise ValueError(f"unknown provider {name!r}; expected one of {', '.join(MAKERS)}")
    return importlib.import_module(f"{__name__}.{MAKERS[name]}").make(capability, name, cfg)
