"""The Encoder base class: loading, the batch loop, pooling, provenance; the modality encoders' parent.

A modality encoder (:class:`~workbench.encoders.text.TextEncoder`,
:class:`~workbench.encoders.speech.SpeechEncoder`,
:class:`~workbench.encoders.vision.VisionEncoder`) only says how to turn rows
of the DataFrame into model inputs (:meth:`Encoder._prepare`); this class
runs the model over length-sorted batches, pools every requested hidden
state, writes the vectors into preallocated float32 buffers at their input
positions, and builds the :class:`~workbench.space.LayerStack`. What to
encode (column, options, layers, pooling, cache key) is decided by
:class:`~workbench.encoders.plan.EncodingPlan`, the same plan every other
entry point uses.

Layer keys are ``hidden_states`` indices: 0 is the embedding output, ``k``
the output of block ``k - 1``. Whether the last entry is before or after the
model's final norm depends on the architecture (in transformers 5.x it is
after it for GPT-2, Llama, Qwen and the Whisper encoder, whose last entry *is*
``last_hidden_state``; it is before it for ViT and for wav2vec2/HuBERT/WavLM
with stable layer norm; BERT and CLIP's vision tower have no final norm on
the hidden states). The encoder checks this on the first batch and records it
in ``provenance["final_layer"]``.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from workbench.device import resolve_device, resolve_dtype
from workbench.encoders.batching import LayerBuffers, plan_batches, prefetch
from workbench.encoders.cache import EncodeCache, cache_key
from workbench.encoders.layers import LAYER_MEANING, Layers, resolve_layers
from workbench.encoders.loading import ModelRef, load_model, load_processor, resolve_model, tower
from workbench.encoders.plan import ENCODERS, EncodingPlan, attach_meta
from workbench.encoders.pooling import PER_STEP, pool, select_steps
from workbench.encoders.reporting import examples, warn
from workbench.space import LatentSpace, LayerStack

__all__ = ["Encoder", "Batch", "Prepared"]


@dataclass
class Batch:
    """Model inputs for some rows, and how to pool what comes out.

    Attributes
    ----------
    inputs : dict of tensors
        Keyword arguments of the model's forward (on the CPU; moved here).
    rows : int array
        Output rows this batch fills, in the order pooled values come out
        (one per sample, or one per kept step for per-step pooling).
    lengths : long tensor of shape (batch,), optional
        Real steps per sample, counted in output steps. None: all steps.
    keep : bool tensor of shape (batch, steps), optional
        For per-step pooling, the steps that become rows; default: the real steps.
    failed : dict
        Sample position -> reason, for samples that could not be loaded (skipped).
    """

    inputs: dict[str, torch.Tensor]
    rows: np.ndarray
    lengths: torch.Tensor | None = None
    keep: torch.Tensor | None = None
    failed: dict[int, str] = field(default_factory=dict)


@dataclass
class Prepared:
    """What a modality encoder hands the loop.

    Attributes
    ----------
    lengths : int array of shape (n_samples,)
        Cost of each sample, for bucketing.
    rows : DataFrame
        Structural meta of the output rows: ``id`` (and for per-step
        pooling ``sample_id``, ``position``, ``token`` / ``time``).
    row_sample : int array of shape (n_rows,)
        The sample (frame position) behind each output row.
    load : callable
        Sample positions -> :class:`Batch`.
    failed : dict
        Samples already known to be unreadable (skipped).
    notes : dict
        Extra provenance (truncation counts...).
    prefetch : bool
        Load batches in a background thread (worth it for files).
    """

    lengths: np.ndarray
    rows: pd.DataFrame
    row_sample: np.ndarray
    load: Callable[[np.ndarray], Batch]
    failed: dict[int, str] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    prefetch: bool = False


@contextlib.contextmanager
def _eval_mode(model: torch.nn.Module) -> Iterator[None]:
    training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(training)


def _json_id(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _short_name(name: str) -> str:
    return name.rstrip("/").split("/")[-1] or name


class Encoder:
    """Base of the modality encoders; see :class:`~workbench.encoders.text.TextEncoder`.

    Parameters
    ----------
    model : str, path, or transformers model
        A hub id, a folder written by ``save_pretrained`` (or a
        sentence-transformers folder), or an already-loaded model.
    processor : tokenizer, feature extractor or image processor, optional
        Required with an already-loaded model; loaded from ``model`` otherwise.
    device : {"auto", "cpu", "cuda", "mps"} or torch.device, default "auto"
        Where the model runs. An already-loaded model stays where it is
        unless a device is named (it is then moved, in place).
    dtype : {"float32", "bfloat16", "float16"}, optional
        Compute precision (default float32). Vectors are returned float32
        whatever the model ran in. Not for an already-loaded model: cast it
        yourself.
    revision : str, optional
        Hub revision (branch, tag or commit).
    trust_remote_code : bool, default False
    hub_kwargs : dict, optional
        Further ``from_pretrained`` arguments (``cache_dir``, ``token``...).
    """

    modality: ClassVar[str] = ""
    default_batch_size: ClassVar[int] = 32

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the first class to name a modality is the one the planner picks for it
        if "modality" in cls.__dict__ and cls.modality:
            ENCODERS.setdefault(cls.modality, cls)

    @classmethod
    def complete_options(cls, given: Mapping[str, Any]) -> dict:
        """``given`` completed with the defaults of this class's own keyword options.

        Raises
        ------
        TypeError
            For a name that is not one of the class's options.
        """
        common = set(inspect.signature(Encoder.__init__).parameters)
        own = {
            name: parameter.default
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name not in common and parameter.kind is inspect.Parameter.KEYWORD_ONLY
        }
        unknown = sorted(set(given) - set(own))
        if unknown:
            raise TypeError(f"{cls.__name__} does not take {unknown}; its options are {sorted(own) or 'none'}")
        return {**own, **given}

    def __init__(
        self,
        model: Any,
        processor: Any = None,
        *,
        device: str | torch.device = "auto",
        dtype: str | torch.dtype | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        hub_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        ref = model if isinstance(model, ModelRef) else resolve_model(
            model, revision=revision, trust_remote_code=trust_remote_code, hub_kwargs=hub_kwargs
        )
        self.ref = ref
        self.processor = load_processor(ref, self.modality, processor)
        self._processor_given = processor is not None
        if ref.model is not None:
            loaded = ref.model
            if dtype is not None:
                raise ValueError(
                    "dtype= applies to models loaded by the encoder; cast an already-loaded model yourself "
                    "(model.to(torch.bfloat16)) and pass it"
                )
            if device != "auto":
                loaded.to(resolve_device(device))
        else:
            loaded = load_model(ref, dtype=resolve_dtype(dtype)).to(resolve_device(device))
        self.model = tower(loaded, self.modality)
        first = next(self.model.parameters(), None)
        self.device = first.device if first is not None else torch.device("cpu")
        self.dtype = first.dtype if first is not None else torch.float32

    # -- what subclasses provide ------------------------------------------------

    @property
    def options(self) -> dict:
        """The modality options that change the vectors (part of the cache key and provenance)."""
        return {}

    def _prepare(self, frame: pd.DataFrame, column: str, pooling: str) -> Prepared:
        raise NotImplementedError

    def _describe(self) -> dict:
        """Provenance entries specific to the model kind."""
        return {}

    # -- public -------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.ref.name!r}, device={self.device}, dtype={str(self.dtype).replace('torch.', '')})"

    def encode(
        self,
        data: pd.DataFrame,
        *,
        column: str | None = None,
        layers: Layers = "all",
        pooling: str | None = None,
        batch_size: int | None = None,
        sort_by_length: bool = True,
        cache: bool = True,
        cache_dir: str | None = None,
        progress: bool = True,
        output_device: str | torch.device = "cpu",
        output_dtype: torch.dtype = torch.float32,
    ) -> LayerStack:
        """Encode every row of ``data``; one LatentSpace per requested layer.

        Parameters
        ----------
        data : DataFrame
            One row per sample, an ``id`` column (added when missing) and the
            modality column (``text``, ``audio`` or ``image``).
        column : str, optional
            The column to encode, when it is not named after the modality.
        layers : "all", int or list of int, default "all"
            ``hidden_states`` indices (0 = embeddings, k = output of block
            k-1); negative indices count from the end.
        pooling : str, optional
            ``mean``, ``cls``, ``last``, ``tokens`` (text); ``mean``,
            ``frames`` (speech); ``mean``, ``cls`` (vision). Default
            (:func:`~workbench.encoders.pooling.default_pooling`): ``last``
            for a causal LM, where steering reads, ``mean`` otherwise.
        batch_size : int, optional
        sort_by_length : bool, default True
            Bucket batches by length; rows still come back in input order.
        cache : bool, default True
            Load a previous identical encoding from the cache, or store this one.
        cache_dir : path, optional
            Cache root (default ``$WORKBENCH_CACHE/encode`` or ``~/.cache/workbench/encode``).
        progress : bool, default True
            Show a progress bar.
        output_device, output_dtype
            Where the vectors are kept (default CPU float32).

        Returns
        -------
        LayerStack
            Keys are the requested ``hidden_states`` indices; each space has
            vectors of shape (n_rows, width) where n_rows is the number of
            samples, or of tokens / frames for per-step pooling.
        """
        plan = EncodingPlan.resolve(
            self.ref, data, encoder=type(self), column=column, layers=layers, pooling=pooling,
            options=self.options, dtype=self.dtype, processor=self.processor if self._processor_given else None,
        )  # fmt: skip
        frame = plan.frame(data)
        dataset = plan.dataset_hash(frame)
        identity = plan.identity()
        if cache:
            parts = plan.cache_parts(dataset, identity)
            store, key = EncodeCache(cache_dir), cache_key(parts)
            hit = store.load(key)
            if hit is not None:
                return attach_meta(hit, frame)
        stack = self._compute(
            frame, plan.column, plan.layers, plan.pooling, self.default_batch_size if batch_size is None else batch_size, sort_by_length,
            progress, output_device, output_dtype, {"model": self.ref.name, **identity[0], "dataset": dataset},
        )  # fmt: skip
        if cache:
            store.store(key, stack, parts)
        return attach_meta(stack, frame)

    __call__ = encode

    # -- internals ------------------------------------------------------------------

    def _forward(self, inputs: Mapping[str, torch.Tensor], select: list[int] | bool) -> Any:
        moved = {}
        for name, value in inputs.items():
            value = value.to(self.device, non_blocking=True)
            if value.is_floating_point():
                value = value.to(self.dtype)
            moved[name] = value
        return self.model(**moved, output_hidden_states=select)

    def _compute(
        self, frame: pd.DataFrame, column: str, layers: Layers, pooling: str, batch_size: int,
        sort_by_length: bool, progress: bool, output_device: Any, output_dtype: torch.dtype, source: dict,
    ) -> LayerStack:
        from tqdm.auto import tqdm

        prepared = self._prepare(frame, column, pooling)
        failed = dict(prepared.failed)
        valid = np.flatnonzero(~np.isin(np.arange(len(frame)), list(failed)))
        if valid.size == 0:
            raise ValueError(f"no row could be read; e.g. {_failure_examples(frame, failed)}")
        plan = [valid[b] for b in plan_batches(prepared.lengths[valid], batch_size, sort=sort_by_length)]
        out_device = resolve_device(output_device) if output_device == "auto" else torch.device(output_device)
        buffers = LayerBuffers(len(prepared.rows), device=out_device, dtype=output_dtype)
        per_step = pooling in PER_STEP
        keys: list[int] | None = None
        select: list[int] | bool = True
        final_layer = None
        batches = prefetch(prepared.load, plan) if prepared.prefetch else map(prepared.load, plan)
        bar = tqdm(total=len(frame), desc=f"encoding with {_short_name(self.ref.name)}", unit="sample", disable=not progress)
        with torch.inference_mode(), _eval_mode(self.model), bar:
            for positions, batch in zip(plan, batches):
                failed.update(batch.failed)
                if batch.inputs:  # empty when every sample of the batch failed to load
                    output = self._forward(batch.inputs, select)
                    hidden = output.hidden_states
                    if hidden is None:
                        raise ValueError(f"{type(self.model).__name__} returned no hidden states")
                    if keys is None:
                        keys = resolve_layers(layers, len(hidden))
                        final_layer = _final_layer(output)
                        if len(keys) < len(hidden) and _can_select():
                            select = keys
                    elif select is not True and any(hidden[k] is None for k in keys):
                        select = True  # this model ignores the selection: take them all
                        hidden = self._forward(batch.inputs, select).hidden_states
                    buffers.write(batch.rows, self._pool(hidden, keys, batch, pooling, per_step))
                    del output, hidden  # free this batch's activations before the next forward allocates
                bar.update(len(positions))
        if keys is None:
            raise ValueError(f"no row could be read; e.g. {_failure_examples(frame, failed)}")
        if failed:
            warn(
                f"{len(failed)} row(s) could not be read and were skipped (see provenance['skipped']): "
                f"{'; '.join(list(failed.values())[:3])}"
            )
        kept = ~np.isin(prepared.row_sample, list(failed)) if failed else None
        vectors = buffers.result(kept)
        rows = (prepared.rows if kept is None else prepared.rows[kept]).reset_index(drop=True)
        _check_finite(vectors, keys, rows, self.dtype)
        provenance = self._provenance(frame, column, pooling, source, failed, final_layer, prepared.notes)
        name = _short_name(self.ref.name)
        spaces = {
            key: LatentSpace(v, rows, name=f"{name} layer {key}", provenance={**provenance, "layer": key})
            for key, v in zip(keys, vectors)
        }
        return LayerStack(spaces, name=name, provenance=provenance)

    def _mean_start(self, steps: int) -> int:
        """Leading steps that mean pooling leaves out (a vision model's CLS); none by default."""
        return 0

    def _pool(self, hidden: Sequence[torch.Tensor], keys: list[int], batch: Batch, pooling: str, per_step: bool) -> list[torch.Tensor]:
        first = hidden[keys[0]]
        if first.ndim != 3:  # convolutional feature maps: pooled over space
            return [pool(hidden[k], pooling) for k in keys]
        size, steps = first.shape[:2]
        lengths = batch.lengths if batch.lengths is not None else torch.full((size,), steps, dtype=torch.long)
        positions = torch.arange(steps)
        mask = positions[None, :] < lengths[:, None]
        if per_step:
            return [select_steps(hidden[k], batch.keep if batch.keep is not None else mask) for k in keys]
        start = self._mean_start(steps)
        if start:
            mask &= positions[None, :] >= start
        mask, lengths = mask.to(self.device), lengths.to(self.device)
        return [pool(hidden[k], pooling, mask=mask, lengths=lengths) for k in keys]

    def _provenance(
        self, frame: pd.DataFrame, column: str, pooling: str, source: dict, failed: dict,
        final_layer: str | None, notes: dict,
    ) -> dict:
        provenance = {
            **source,
            "architecture": type(self.model).__name__,
            "modality": self.modality,
            "column": column,
            "layer_meaning": LAYER_MEANING,
            "final_layer": final_layer,
            "pooling": pooling,
            "dtype": str(self.dtype).replace("torch.", ""),
            **self._describe(),
            **{k: v for k, v in self.options.items() if v not in (None, False)},
            **notes,
        }
        if failed:
            ids = frame["id"].to_numpy()
            provenance["skipped"] = [{"id": _json_id(ids[i]), "reason": reason} for i, reason in sorted(failed.items())]
        return provenance


def _can_select() -> bool:
    """transformers ≥ 5 keeps only the hidden states named in ``output_hidden_states=[...]``."""
    try:
        from transformers.utils.output_capturing import selected_hidden_states  # noqa: F401
    except ImportError:
        return False
    return True


def _final_layer(output: Any) -> str | None:
    hidden = output.hidden_states
    last = getattr(output, "last_hidden_state", None)
    if last is None or hidden[-1] is None or hidden[-1].shape != last.shape:
        return None
    if torch.equal(hidden[-1], last):
        return "hidden_states[-1] is last_hidden_state (after the model's final norm, where it has one)"
    return "hidden_states[-1] is the last block's output, before the model's final norm (last_hidden_state)"


def _failure_examples(frame: pd.DataFrame, failed: dict) -> str:
    ids = frame["id"].to_numpy()
    return "; ".join(f"row {ids[i]!r}: {reason}" for i, reason in list(sorted(failed.items()))[:3])


def _check_finite(vectors: list[torch.Tensor], keys: list[int], rows: pd.DataFrame, dtype: torch.dtype) -> None:
    for key, tensor in zip(keys, vectors):
        bad = ~torch.isfinite(tensor).all(dim=1)
        if bool(bad.any()):
            ids = examples(rows["id"].to_numpy()[bad.cpu().numpy()])
            hint = " (float16 overflows easily: use bfloat16 or float32)" if dtype == torch.float16 else ""
            raise FloatingPointError(f"the model produced NaN or Inf at layer {key} for ids {ids}{hint}")
