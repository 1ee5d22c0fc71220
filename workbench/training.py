"""Local intrinsic dimension during fine-tuning: a callback for transformers' ``Trainer``.

"Less is More" (Ruppik et al. 2025) follows the mean local intrinsic
dimension (LID) of a held-out set's token vectors, in the last layer, across
training checkpoints: it falls before performance gains, settles when
training is exhausted, and rises again when the model overfits.
:class:`LIDCallback` records that signal while a ``Trainer`` runs: at every
evaluation (or every *n* steps) it encodes a fixed probe set with the model
being trained (through :func:`workbench.encode`, the same code path as any
other encoding, without the cache) and estimates the LID of every probe vector
with :class:`~workbench.geometry.intrinsic.LocalIntrinsicDimension`.

``callback.history`` is a DataFrame with one row per measurement: ``step``,
``epoch``, ``mean_lid``, ``median_lid``, ``n_points``, ``lid_seconds`` (what
the measurement cost), ``train_loss`` (the last logged training loss) and the
trainer's evaluation metrics under their own names (``eval_loss``,
``eval_accuracy``, ...).

Examples
--------
>>> from transformers import Trainer
>>> probe = wb.load_emotion_sentences(split="test")["text"]  # doctest: +SKIP
>>> callback = LIDCallback(probe, tokenizer, n_neighbors=64, pooling="tokens")  # doctest: +SKIP
>>> trainer = Trainer(model, args, train_dataset=train, eval_dataset=test,
...                   callbacks=[callback])  # doctest: +SKIP
>>> trainer.evaluate(); trainer.train()  # doctest: +SKIP
>>> callback.history[["step", "eval_accuracy", "mean_lid"]]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from transformers import TrainerCallback

__all__ = ["LIDCallback"]

# Trainer metrics that describe the evaluation run, not the model.
_TIMING_SUFFIXES = ("_runtime", "_per_second", "_preparation_time")


def _probe_frame(probe: Any, column: str) -> pd.DataFrame:
    """The probe set as a DataFrame with ``id`` and ``text`` columns."""
    if hasattr(probe, "to_pandas") and not isinstance(probe, pd.DataFrame):  # a datasets.Dataset
        probe = probe.to_pandas()
    if isinstance(probe, pd.DataFrame):
        if column not in probe.columns:
            raise ValueError(f"the probe DataFrame has no column {column!r}; it has {list(probe.columns)}")
        texts = probe[column]
    elif isinstance(probe, (str, bytes)) or not isinstance(probe, (Sequence, pd.Series, np.ndarray)):
        raise TypeError(f"probe must be a sequence of texts, a DataFrame or a datasets.Dataset; got {type(probe).__name__}")
    else:
        texts = probe
    texts = np.asarray(texts, dtype=object).tolist()
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(f"the probe has {len(bad)} empty or non-text entries (first at position {bad[0]})")
    if not texts:
        raise ValueError("the probe set is empty")
    return pd.DataFrame({"id": [f"probe-{i}" for i in range(len(texts))], "text": texts})


class LIDCallback(TrainerCallback):
    """Record the mean local intrinsic dimension of a probe set while a ``Trainer`` trains.

    Parameters
    ----------
    probe : sequence of str, DataFrame or datasets.Dataset
        Held-out texts, encoded at every measurement. A DataFrame or Dataset
        is read from its ``column``.
    tokenizer : tokenizer, optional
        The model's tokenizer. Default: the trainer's ``processing_class``.
    n_neighbors : int, default 128
        Neighbourhood size ``L`` of the estimator (the paper's 128). The
        probe must give more vectors than this.
    layer : int, default -1
        ``hidden_states`` index to measure (-1: the last layer, as in the paper).
    pooling : {"mean", "tokens", "cls", "last"}, optional
        ``"tokens"`` measures every (non-special) token vector, as the paper
        does; the others one vector per text. By default the rule every
        encoder follows (:func:`~workbench.encoders.pooling.default_pooling`):
        the last token for a causal LM, the mean otherwise.
    every : "eval" or int, default "eval"
        Measure after every evaluation (then the row carries the evaluation
        metrics), or every ``every`` optimisation steps.
    column : str, default "text"
        The probe's text column, for a DataFrame or Dataset.
    batch_size : int, default 32
        Probe texts per forward pass.
    estimator : {"twonn", "mle"}, default "twonn"
    **lid_options
        Passed to :class:`~workbench.geometry.intrinsic.LocalIntrinsicDimension`
        (``discard_fraction``, ``duplicates``, ...).

    Attributes
    ----------
    history : DataFrame
        One row per measurement (see the module docstring).

    Notes
    -----
    Measurements run on the main process only, on the model's own device,
    in eval mode and without gradients; the model is put back in the mode it
    was in. To measure the model before training, call ``trainer.evaluate()``
    before ``trainer.train()`` (step 0), or :meth:`measure` directly.
    """

    def __init__(
        self,
        probe: Any,
        tokenizer: Any = None,
        *,
        n_neighbors: int = 128,
        layer: int = -1,
        pooling: str | None = None,
        every: str | int = "eval",
        column: str = "text",
        batch_size: int = 32,
        estimator: str = "twonn",
        **lid_options: Any,
    ) -> None:
        if every != "eval" and not (isinstance(every, int) and every > 0):
            raise ValueError(f"every must be 'eval' or a positive number of steps; got {every!r}")
        self.probe = _probe_frame(probe, column)
        if pooling != "tokens" and len(self.probe) <= n_neighbors:
            raise ValueError(
                f"a probe of {len(self.probe)} texts pooled per text gives {len(self.probe)} points, not more than "
                f"n_neighbors={n_neighbors}; use more texts, fewer neighbours or pooling='tokens'"
            )
        self.tokenizer = tokenizer
        self.n_neighbors = n_neighbors
        self.layer = layer
        self.pooling = pooling
        self.every = every
        self.batch_size = batch_size
        self.estimator = estimator
        self.lid_options = lid_options
        self._records: list[dict[str, Any]] = []

    @property
    def history(self) -> pd.DataFrame:
        """One row per measurement: step, epoch, mean_lid, median_lid, ... and the eval metrics."""
        return pd.DataFrame(self._records)

    def measure(self, model: Any, tokenizer: Any = None) -> dict[str, Any]:
        """Encode the probe with ``model`` and estimate its LID.

        ``tokenizer`` is used when the callback was built without one.

        Returns
        -------
        dict
            ``mean_lid``, ``median_lid`` (over points with a defined
            estimate), ``n_points`` and ``lid_seconds``.
        """
        from workbench.encoders import encode
        from workbench.geometry.intrinsic import LocalIntrinsicDimension

        tokenizer = self.tokenizer if self.tokenizer is not None else tokenizer
        if tokenizer is None:
            raise ValueError("LIDCallback needs the model's tokenizer: pass tokenizer=..., or give the Trainer a processing_class")
        started = time.perf_counter()
        device = next(model.parameters()).device
        stack = encode(
            model, self.probe, processor=tokenizer, layers=[self.layer], pooling=self.pooling,
            batch_size=self.batch_size, device=device, cache=False, progress=False,
        )
        space = stack[stack.layers[-1]]
        if len(space) <= self.n_neighbors:
            pooling = space.provenance.get("pooling", self.pooling)
            raise ValueError(
                f"the probe gives {len(space)} vectors with pooling={pooling!r}, not more than n_neighbors={self.n_neighbors}"
            )
        estimator = LocalIntrinsicDimension(
            n_neighbors=self.n_neighbors, estimator=self.estimator, device=str(device), **self.lid_options
        )
        lid = estimator.fit(space).lid_
        return {
            "mean_lid": float(np.nanmean(lid)),
            "median_lid": float(np.nanmedian(lid)),
            "n_points": int(len(lid)),
            "lid_seconds": time.perf_counter() - started,
        }

    def _record(self, state: Any, model: Any, tokenizer: Any, metrics: dict | None) -> None:
        if not state.is_world_process_zero or model is None:
            return
        row: dict[str, Any] = {"step": int(state.global_step), "epoch": float(state.epoch or 0.0)}
        row.update(self.measure(model, tokenizer))
        losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
        row["train_loss"] = float(losses[-1]) if losses else np.nan
        for name, value in (metrics or {}).items():
            if name != "epoch" and not name.endswith(_TIMING_SUFFIXES) and isinstance(value, (int, float)):
                row[name] = float(value)
        self._records.append(row)

    # -- Trainer events

    def on_evaluate(self, args, state, control, model=None, metrics=None, processing_class=None, **kwargs):
        if self.every == "eval":
            self._record(state, model, processing_class, metrics)

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if self.every != "eval" and state.global_step % self.every == 0:
            self._record(state, model, processing_class, None)
