"""From what the user names to a model ready to run: resolution, loading, identity.

A model is named three ways, and all three end in the same :class:`ModelRef`:

- a **hub id** (``"gpt2"``, ``"facebook/wav2vec2-base"``): resolved through the
  Hugging Face cache; offline, an id that is not cached gives a clear error
  instead of a connection traceback;
- a **local folder** written by ``save_pretrained`` (or a sentence-transformers
  folder, whose transformer may sit in a sub-folder named by ``modules.json``):
  checked for a config and for weights before anything is loaded;
- an **already-loaded model** (``PreTrainedModel``), with its processor.

Identity (what the encode cache keys on) is cheap for each:

- hub id: the resolved commit hash (``config._commit_hash``);
- folder: :func:`folder_hash`, which hashes small files whole and, for large
  weight files, their size, modification time and first and last MiB. Reading
  every byte of a multi-GB checkpoint to look up a cache entry would cost more
  than many encodings; the safetensors header (in the first MiB) pins every
  tensor's name, shape and offset, the tail pins the last tensor's values, and
  the mtime catches an in-place rewrite. A copied folder gets a new mtime and
  simply misses the cache once;
- loaded model: :func:`parameter_fingerprint` (float64 sum and sum of squares
  of every parameter, computed where the parameters live), so a model
  fine-tuned in the notebook never reads a stale entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.encoders.bundled import DEFAULT_MODEL, default_text_model
from workbench.encoders.reporting import examples, warn

__all__ = [
    "ModelRef",
    "resolve_model",
    "load_model",
    "load_processor",
    "processor_modalities",
    "model_modalities",
    "folder_hash",
    "parameter_fingerprint",
    "processor_fingerprint",
    "is_causal_lm",
]

MODALITIES = ("text", "audio", "image")

_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")
_WHOLE_FILE_LIMIT = 16 * 2**20
_EDGE = 2**20

_PROCESSOR_NAMES = {"text": "tokenizer", "audio": "feature extractor", "image": "image processor"}


@dataclass
class ModelRef:
    """A model named by the user, resolved but not necessarily loaded.

    Attributes
    ----------
    name : str
        The hub id, the folder path, or ``name_or_path`` of a loaded model.
        The bundled MiniLM shows as its hub id.
    source : str or None
        What ``from_pretrained`` is given (hub id or folder); None for a
        loaded model.
    identity : dict
        ``{"revision": commit}`` for a hub id, ``{"weights_hash": ...}`` for a
        folder or a loaded model. Part of the cache key.
    config : transformers.PretrainedConfig
    model : torch.nn.Module or None
        Set when the user passed a loaded model.
    settings : dict
        Hints read from the folder, e.g. sentence-transformers'
        ``max_seq_length``.
    """

    name: str
    source: str | None
    identity: dict
    config: Any
    model: torch.nn.Module | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    hub_kwargs: dict = field(default_factory=dict)
    settings: dict = field(default_factory=dict)

    def pretrained_kwargs(self) -> dict:
        kwargs = dict(self.hub_kwargs)
        if self.revision is not None:
            kwargs["revision"] = self.revision
        kwargs["trust_remote_code"] = self.trust_remote_code
        return kwargs


# ----------------------------------------------------------------------------
# quiet loading
# ----------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_transformers(progress: bool = False) -> Iterator[None]:
    """Silence transformers' load reports and weight bars; we report what matters ourselves."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    if not progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _hub_offline() -> bool:
    try:
        import huggingface_hub

        return bool(huggingface_hub.constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):  # pragma: no cover - huggingface_hub ships with transformers
        return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def _hub_error(name: str, exc: Exception) -> OSError:
    # hub ids are "name" or "owner/name"; anything else was meant as a folder
    looks_like_path = name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name
    if looks_like_path:
        return FileNotFoundError(f"no model folder at {name!r}")
    if _hub_offline():
        return OSError(
            f"cannot load model {name!r}: it is not a local folder, the Hugging Face hub is offline "
            "(HF_HUB_OFFLINE=1) and the model is not in the local cache. Download it once with network "
            "access, or pass the path of a folder written by save_pretrained."
        )
    return OSError(
        f"cannot load model {name!r}: it is not a local folder and the Hugging Face hub could not provide it "
        f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). Check the id, the revision "
        "and your access token."
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _weights_error(folder: Path, exc: Exception) -> OSError:
    """What is wrong with the weights of a local model folder, naming the file and what to do."""
    import pickle

    weights = sorted(p.name for p in folder.iterdir() if p.suffix in _WEIGHT_SUFFIXES) or ["(no weight file)"]
    where = f"{folder}/{weights[0]}" if len(weights) == 1 else f"the weights in {folder} ({', '.join(weights)})"
    if isinstance(exc, pickle.UnpicklingError) or "weights only load failed" in str(exc).lower():
        return OSError(
            f"{where} cannot be loaded safely: torch refuses to unpickle it (it holds objects other than tensors, "
            "or it is damaged), and workbench never runs code from a weight file. Where you trust its source, "
            "convert it to model.safetensors; otherwise download the model again"
        )
    if type(exc).__name__ == "SafetensorError" or "deserializ" in str(exc).lower():
        return OSError(f"{where} is truncated or damaged ({_first_line(exc)}); download or save the model again")
    return OSError(f"cannot load the model in {folder}: {type(exc).__name__}: {_first_line(exc)}")


# ----------------------------------------------------------------------------
# folders
# ----------------------------------------------------------------------------


def _sentence_transformers_folder(folder: Path) -> tuple[Path, dict]:
    """The transformer sub-folder of a sentence-transformers folder, and its settings."""
    modules = folder / "modules.json"
    settings: dict = {}
    if modules.is_file():
        try:
            entries = json.loads(modules.read_text())
        except (ValueError, OSError):
            entries = []
        for entry in entries:
            if str(entry.get("type", "")).endswith("models.Transformer"):
                folder = folder / entry.get("path", "")
                break
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        with contextlib.suppress(ValueError, OSError):
            max_length = json.loads(st_config.read_text()).get("max_seq_length")
            if isinstance(max_length, int) and max_length > 0:
                settings["max_length"] = max_length
    return folder, settings


def _check_folder(folder: Path) -> None:
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{folder} is not a model folder: it has no config.json (write one with model.save_pretrained)"
        )
    has_weights = any(
        path.suffix in _WEIGHT_SUFFIXES and not path.name.startswith(("training_args", "optimizer", "scheduler"))
        for path in folder.iterdir()
    ) or any((folder / index).is_file() for index in _WEIGHT_INDEXES)
    if not has_weights:
        raise FileNotFoundError(
            f"{folder} has a config.json but no weights (model.safetensors or pytorch_model.bin); "
            "save them with model.save_pretrained"
        )


def _file_digest(path: Path) -> str:
    stat = path.stat()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{path.name}\0{stat.st_size}\0".encode())
    with open(path, "rb") as handle:
        if stat.st_size <= _WHOLE_FILE_LIMIT:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
        else:
            digest.update(f"{stat.st_mtime_ns}\0".encode())
            digest.update(handle.read(_EDGE))
            handle.seek(stat.st_size - _EDGE)
            digest.update(handle.read(_EDGE))
    return digest.hexdigest()


def folder_hash(folder: str | os.PathLike) -> str:
    """A content hash of a model folder, cheap even for multi-GB weights.

    Files up to 16 MiB (config, tokenizer, processor) are hashed whole; larger
    files by size, modification time and their first and last MiB. Hidden
    files and sub-folders' hidden files are ignored.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "config.json").write_text("{}")
    >>> len(folder_hash(folder))
    32
    """
    folder = Path(folder)
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            digest.update(str(relative).encode() + b"\0" + _file_digest(path).encode())
    return digest.hexdigest()


def parameter_fingerprint(model: torch.nn.Module) -> str:
    """A fingerprint of a loaded model's weights: per tensor, name, shape, dtype, sum and sum of squares.

    Not a cryptographic hash: it is computed where the parameters live (one
    pass, no copy to the host, float64 in chunks of 16M values so a large
    embedding never doubles in memory) and changes with any training step.
    """
    tensors = list(model.state_dict().items())
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(model).__name__.encode())
    if not tensors:
        return digest.hexdigest()
    with torch.inference_mode():
        stats = []
        for _, tensor in tensors:
            total = squares = torch.zeros((), dtype=torch.float64, device=tensor.device)
            for chunk in tensor.detach().reshape(-1).split(2**24):
                chunk = chunk.double()
                total, squares = total + chunk.sum(), squares + chunk.square().sum()
            stats.append(torch.stack([total, squares]))
        values = torch.stack(stats).cpu()  # one transfer
    for (name, tensor), (total, squares) in zip(tensors, values.tolist()):
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}:{total!r}:{squares!r};".encode())
    return digest.hexdigest()


def processor_fingerprint(processor: Any) -> str:
    """A hash of a processor's settings (tokenizer vocabulary and rules, or extractor config)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(type(processor).__name__.encode())
    backend = getattr(processor, "backend_tokenizer", None) or getattr(processor, "_tokenizer", None)
    if backend is not None and hasattr(backend, "to_str"):
        state = json.loads(backend.to_str())
        # the backend remembers the last call's truncation and padding: not part of what it is
        state.pop("truncation", None)
        state.pop("padding", None)
        digest.update(json.dumps(state, sort_keys=True).encode())
    elif hasattr(processor, "get_vocab"):
        digest.update(json.dumps(sorted(processor.get_vocab().items())).encode())
    if hasattr(processor, "to_json_string"):
        digest.update(processor.to_json_string().encode())
    for attribute in ("chat_template", "padding_side", "model_max_length"):
        digest.update(repr(getattr(processor, attribute, None)).encode())
    return digest.hexdigest()


# ----------------------------------------------------------------------------
# resolution
# ----------------------------------------------------------------------------


def _display_name(folder: Path) -> str:
    from workbench.encoders.bundled import DEFAULT_TEXT_MODEL_ID, default_text_model

    with contextlib.suppress(ImportError, FileNotFoundError):
        if folder.resolve() == default_text_model().resolve():
            return DEFAULT_TEXT_MODEL_ID
    return str(folder)


def _hub_identity(repo: str, revision: str | None, hub_kwargs: dict) -> dict:
    """The resolved commit of a hub model, read from its snapshot folder in the cache.

    Falls back to hashing the snapshot's files when the path carries no commit
    (a custom cache layout): a stale entry must never be taken for a new revision.
    """
    from transformers.utils import cached_file

    kwargs = {k: v for k, v in hub_kwargs.items() if k in ("cache_dir", "token", "local_files_only", "force_download", "proxies")}
    with quiet_transformers():
        path = Path(cached_file(repo, "config.json", revision=revision, **kwargs))
    parts = path.parts
    if "snapshots" in parts[:-1]:
        commit = parts[parts.index("snapshots") + 1]
        if len(commit) == 40 and all(c in "0123456789abcdef" for c in commit):
            return {"revision": commit}
    return {"weights_hash": folder_hash(path.parent)}


def resolve_model(
    model: Any,
    *,
    revision: str | None = None,
    trust_remote_code: bool = False,
    hub_kwargs: Mapping[str, Any] | None = None,
) -> ModelRef:
    """Resolve a hub id, a folder, ``"default"`` (the bundled all-MiniLM-L6-v2) or a loaded model to a :class:`ModelRef`.

    Reads the config only, no weights.

    Raises
    ------
    FileNotFoundError
        A folder that does not exist, has no config.json, or has no weights.
    OSError
        A hub id that cannot be resolved (offline and not cached, unknown id).
    TypeError
        Anything else.
    """
    hub_kwargs = dict(hub_kwargs or {})
    if isinstance(model, torch.nn.Module):
        config = getattr(model, "config", None)
        if config is None:
            raise TypeError(
                f"{type(model).__name__} has no .config; pass a Hugging Face PreTrainedModel, a hub id or a folder"
            )
        name = str(getattr(model, "name_or_path", "") or getattr(config, "_name_or_path", "") or type(model).__name__)
        return ModelRef(name=name, source=None, identity={}, config=config, model=model)
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"model must be a hub id, a folder path or a loaded transformers model; got {type(model).__name__}"
        )
    from transformers import AutoConfig

    text = os.fspath(model)
    folder = Path(text).expanduser()
    if text == DEFAULT_MODEL and not folder.exists():  # the bundled model, not a hub id to look up (offline: 25 s of retries)
        text = os.fspath(default_text_model())
        folder = Path(text)
    settings: dict = {}
    if folder.is_dir():
        folder, settings = _sentence_transformers_folder(folder)
        _check_folder(folder)
        source, name = str(folder), _display_name(Path(text).expanduser())
    elif folder.exists():
        raise FileNotFoundError(f"{folder} is a file; pass the folder that holds config.json and the weights")
    else:
        source, name = text, text
    try:
        with quiet_transformers():
            config = AutoConfig.from_pretrained(
                source, revision=revision, trust_remote_code=trust_remote_code, **hub_kwargs
            )
    except OSError as exc:
        if folder.is_dir():  # the folder is there: its config is what is wrong
            raise OSError(
                f"cannot read {Path(source) / 'config.json'}: {_first_line(exc)}; repair it or save the model "
                "again with save_pretrained"
            ) from None
        raise _hub_error(text, exc) from None
    except ValueError as exc:
        raise ValueError(f"cannot read the config of model {name!r}: {exc}") from None
    if source == text and not folder.is_dir():
        identity = _hub_identity(source, revision, hub_kwargs)
    else:
        identity = {"weights_hash": folder_hash(source)}
    return ModelRef(
        name=name, source=source, identity=identity, config=config, revision=revision,
        trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs, settings=settings,
    )


# ----------------------------------------------------------------------------
# processors and modalities
# ----------------------------------------------------------------------------


def processor_modalities(processor: Any) -> set[str]:
    """Which data a processor prepares: ``text``, ``audio`` and/or ``image``."""
    from transformers import PreTrainedTokenizerBase

    found: set[str] = set()
    if isinstance(processor, PreTrainedTokenizerBase):
        found.add("text")
    if getattr(processor, "sampling_rate", None) is not None:
        found.add("audio")
    if hasattr(processor, "image_mean") or type(processor).__name__.endswith(("ImageProcessor", "ImageProcessorPil", "ImageProcessorFast")):
        found.add("image")
    for part in ("tokenizer", "feature_extractor", "image_processor"):
        if hasattr(processor, part) and getattr(processor, part) is not processor:
            found |= processor_modalities(getattr(processor, part))
    return found


def _auto_processor(modality: str):
    from transformers import AutoFeatureExtractor, AutoImageProcessor, AutoTokenizer

    return {"text": AutoTokenizer, "audio": AutoFeatureExtractor, "image": AutoImageProcessor}[modality]


def _try_processor(ref: ModelRef, modality: str) -> Any | None:
    try:
        with quiet_transformers(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            processor = _auto_processor(modality).from_pretrained(ref.source, **ref.pretrained_kwargs())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return processor if modality in processor_modalities(processor) else None


def model_modalities(ref: ModelRef, processor: Any = None) -> set[str]:
    """The modalities the model's processor(s) can prepare."""
    if processor is not None:
        return processor_modalities(processor)
    if ref.source is None:
        return set()
    return {modality for modality in MODALITIES if _try_processor(ref, modality) is not None}


def load_processor(ref: ModelRef, modality: str, processor: Any = None) -> Any:
    """The tokenizer, feature extractor or image processor for ``modality``.

    A given ``processor`` is checked (a ``ProcessorMixin`` is unwrapped to
    its part for the modality); otherwise it is loaded from the model's source.
    """
    wanted = _PROCESSOR_NAMES[modality]
    if processor is not None:
        # a multimodal ProcessorMixin (CLIPProcessor, WhisperProcessor) holds the part we need
        part = {"text": "tokenizer", "audio": "feature_extractor", "image": "image_processor"}[modality]
        processor = getattr(processor, part, None) or processor
        if modality not in processor_modalities(processor):
            raise TypeError(f"the given processor ({type(processor).__name__}) is not a {wanted}; {modality} data needs one")
        return processor
    if ref.source is None:
        raise ValueError(
            f"model {ref.name!r} was passed already loaded; pass its {wanted} too (processor=...)"
        )
    found = _try_processor(ref, modality)
    if found is None:
        others = sorted(model_modalities(ref) - {modality})
        what = f"; it takes {' and '.join(others)} data" if others else ""
        raise ValueError(f"model {ref.name!r} has no {wanted}, so it cannot encode {modality} data{what}")
    return found


def is_causal_lm(config: Any) -> bool:
    """True for decoder-only language models (GPT-2, Llama, Qwen...), False for BERT-like encoders."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if getattr(config, "is_decoder", False):
        return True
    architectures = getattr(config, "architectures", None) or []
    if any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        return not getattr(config, "is_encoder_decoder", False)
    model_type = getattr(config, "model_type", "")
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES


# ----------------------------------------------------------------------------
# model loading
# ----------------------------------------------------------------------------

# parameters that never feed hidden states: missing ones are harmless
_HEADS = ("pooler", "lm_head", "classifier", "score", "head.", "projector", "projection", "masked_spec_embed")


def load_model(ref: ModelRef, *, dtype: torch.dtype | None = None, progress: bool = False) -> torch.nn.Module:
    """Load the base model (no task head) behind ``ref``; warn when weights had to be initialised at random."""
    if ref.model is not None:
        return ref.model
    from transformers import AutoModel

    kwargs = ref.pretrained_kwargs()
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        with quiet_transformers(progress):
            model, info = AutoModel.from_pretrained(ref.source, output_loading_info=True, **kwargs)
    except Exception as exc:
        if Path(ref.source).is_dir():
            raise _weights_error(Path(ref.source), exc) from None
        if isinstance(exc, OSError):
            raise _hub_error(ref.name, exc) from None
        if isinstance(exc, ValueError):
            raise ValueError(f"transformers cannot build a model from {ref.name!r}: {exc}") from None
        raise
    missing = [key for key in (info or {}).get("missing_keys", []) if not any(h in key for h in _HEADS)]
    if missing:
        warn(
            f"{len(missing)} weight(s) of {ref.name!r} are not in its checkpoint and were initialised at random "
            f"(e.g. {examples(sorted(missing), 3)}); its hidden states will not be the trained model's"
        )
    return model


def tower(model: torch.nn.Module, modality: str) -> torch.nn.Module:
    """The part of ``model`` that encodes ``modality`` (CLIP's vision tower, Whisper's encoder...)."""
    config = getattr(model, "config", None)
    if modality == "image":
        for name in ("vision_model", "vision_tower", "visual", "vision_encoder", "image_tower"):
            if hasattr(model, name):
                return getattr(model, name)
        return model
    if modality == "text":
        if hasattr(model, "text_model"):
            return model.text_model
        if getattr(config, "is_encoder_decoder", False):
            return model.get_encoder()
        return model
    for name in ("audio_tower", "audio_encoder", "speech_encoder"):
        if hasattr(model, name):
            return getattr(model, name)
    if getattr(config, "is_encoder_decoder", False):
        return model.get_encoder()
    return model
