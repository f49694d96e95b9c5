"""Run settings: config/config.yaml, then --config overrides, then SPARK_VIDEO_* env knobs,
then the settings chosen by spark-video's own flags (e.g. `episode --provider`).

The original's environment knobs keep working; each maps onto one config key. A flag typed
on the command line beats the environment: the CLI hands its flags to Snakemake as the one
config key `flags` (a mapping of config keys), which `resolve` applies last, so the CLI and
every job of its build resolve the same settings without touching the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from .io import InputError, parse_model
from .models import WorkflowConfig

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_CONFIG = REPO_ROOT / "config" / "config.yaml"

# env var -> (config key, type)
ENV_KNOBS: dict[str, tuple[str, type]] = {
    "SPARK_VIDEO_PROVIDER": ("provider", str),
    "SPARK_VIDEO_TEXT_PROVIDER": ("text_provider", str),
    "SPARK_VIDEO_VIDEO_PROVIDER": ("video_provider", str),
    "SPARK_VIDEO_REVIEW_PROVIDER": ("review_provider", str),
    "SPARK_VIDEO_TTS_PROVIDER": ("tts_provider", str),
    "SPARK_VIDEO_IMAGE_PROVIDER": ("image_provider", str),
    "SPARK_VIDEO_MAX_CONCURRENCY": ("api_slots", int),
    "SPARK_VIDEO_REVIEW_THRESHOLD": ("review_threshold", float),
    "SPARK_VIDEO_REVIEW_VETO_FLOOR": ("review_veto_floor", float),
    "SPARK_VIDEO_MAX_RETRY": ("max_retry", int),
    "SPARK_VIDEO_FAILED_RETRIES": ("failed_retries", int),
    "SPARK_VIDEO_FAILED_BACKOFF_S": ("failed_backoff_s", float),
    "SPARK_VIDEO_LONG_CONFIRM_S": ("long_confirm_s", int),
    "SPARK_VIDEO_NARRATOR_VOICE": ("narrator_voice", str),
    "SPARK_VIDEO_NARRATOR_TTS_MODEL": ("narrator_tts_model", str),
    "SPARK_VIDEO_NARRATOR_SPEECH_RATE": ("narrator_speech_rate", float),
    "SPARK_VIDEO_BUDGET": ("budget", float),
    "SPARK_VIDEO_CHAIN_CASCADE": ("chain_cascade", bool),
    "SPARK_VIDEO_CROSSFADE": ("crossfade", float),
    "SPARK_VIDEO_REEL_SHOTS": ("reel_shots", int),
    "SPARK_VIDEO_RESOLUTION": ("resolution", str),
    "SPARK_VIDEO_RATIO": ("ratio", str),
    "SPARK_VIDEO_ROLE_ASKS": ("role_asks", int),
    "SPARK_VIDEO_VFX": ("vfx", bool),
    "SPARK_VIDEO_VFX_ROUNDS": ("vfx_rounds", int),
    "SPARK_VIDEO_ESCALATION_ROUNDS": ("escalation_rounds", int),
    "VIDEOGEN_PROJECTS_DIR": ("projects_dir", str),
}

CAPABILITIES = ("text", "video", "review", "tts", "image")
FLAGS_KEY = "flags"  # config key: {config key: value} chosen by command-line flags


def _coerce(value: str, typ: type) -> Any:
    if typ is bool:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return typ(value)


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for var, (key, typ) in ENV_KNOBS.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        try:
            out[key] = _coerce(raw, typ)
        except ValueError:
            raise InputError(None, f"environment variable {var}={raw!r} is not a {typ.__name__}"
                             ) from None
    return out


def load_config_file(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise InputError(path, f"malformed YAML: {e}") from e
    if not isinstance(data, dict):
        raise InputError(path, "top level must be a mapping of keys to values")
    return data


def resolve(config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None,
            config_file: Path | None = DEFAULT_CONFIG) -> WorkflowConfig:
    """Snakemake passes its merged `config`; the CLI passes overrides on top of the file."""
    merged: dict[str, Any] = dict(load_config_file(config_file)) if config_file else {}
    merged.update({k: v for k, v in (config or {}).items() if v is not None})
    merged.update(env_overrides(environ))
    flags = merged.pop(FLAGS_KEY, None) or {}
    if not isinstance(flags, Mapping):
        raise InputError(config_file or "config", f"{FLAGS_KEY!r} must be a mapping of config "
                         f"keys to values, not {flags!r}")
    merged.update({k: v for k, v in flags.items() if v is not None})
    return parse_model(WorkflowConfig, merged, config_file or "config")


def provider_for(cfg: WorkflowConfig, capability: str) -> str:
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown capability {capability}")
    return getattr(cfg, f"{capability}_provider") or cfg.provider
