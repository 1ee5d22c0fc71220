"""Text encoders: BERT-like models (and sentence-transformers folders) and causal LMs.

Every text is tokenized once, up front, in one call to the fast tokenizer;
batches are then cut from one flat array of token ids by NumPy indexing, so
the loop does no per-sample Python work.

The encoder pads on the **right**, whatever the tokenizer's ``padding_side``
(chat models often ship left padding, which is for generation). With right
padding and the attention mask, a BERT-like model ignores the padding, and a
causal LM's real tokens never see it (the causal mask hides later steps) and
keep their positions ``0 .. n-1`` (left padding would shift GPT-2's absolute
positions). So every row equals the encoding of its text alone, up to float
rounding, whatever batch it falls in. ``last`` is the last real token.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import torch

from workbench.encoders.batching import ranges_index
from workbench.encoders.base import Batch, Encoder, Prepared
from workbench.encoders.loading import is_causal_lm
from workbench.encoders.reporting import examples, warn

__all__ = ["TextEncoder"]

_UNBOUNDED = 10**6  # tokenizers without a limit report ~1e30


class TextEncoder(Encoder):
    """Every layer of a text model (encoder or causal LM) for a column of texts.

    Parameters
    ----------
    model, processor, **loading
        See :class:`~workbench.encoders.base.Encoder` (``device``, ``dtype``,
        ``revision``, ``trust_remote_code``, ``hub_kwargs``); ``processor`` is
        the tokenizer.
    max_length : int, optional
        Tokens kept per text (longer texts are truncated, with a warning).
        Default: sentence-transformers' ``max_seq_length`` for such folders,
        else the tokenizer's limit, else the model's position limit.
    chat_template : bool, default False
        Wrap each text as a user message with the tokenizer's chat template
        (generation prompt added), so ``last`` is the last prompt token.
    system_prompt : str, optional
        A system message before each text (needs ``chat_template=True``).

    Examples
    --------
    >>> import workbench as wb
    >>> from workbench.encoders import TextEncoder
    >>> encoder = TextEncoder(wb.encoders.default_text_model(), device="cpu")
    >>> stack = encoder.encode(wb.load_emotion_sentences().head(8), layers=[-1], cache=False, progress=False)
    >>> stack[-1].shape
    (8, 384)
    """

    modality = "text"

    def __init__(
        self,
        model: Any,
        processor: Any = None,
        *,
        max_length: int | None = None,
        chat_template: bool = False,
        system_prompt: str | None = None,
        **loading: Any,
    ) -> None:
        super().__init__(model, processor, **loading)
        if system_prompt is not None and not chat_template:
            raise ValueError("system_prompt needs chat_template=True")
        if chat_template and not getattr(self.processor, "chat_template", None):
            raise ValueError(f"the tokenizer of {self.ref.name!r} has no chat template; encode the texts as they are")
        self._options = {"max_length": max_length, "chat_template": bool(chat_template), "system_prompt": system_prompt}
        self.causal = is_causal_lm(self.model.config)
        self.max_length = self._max_length(max_length)

    @property
    def options(self) -> dict:
        return dict(self._options)

    def _describe(self) -> dict:
        return {"kind": "causal" if self.causal else "encoder", "max_length": self.max_length}

    def _max_length(self, given: int | None) -> int:
        config = self.model.config
        limit = next(
            (v for v in (getattr(config, n, None) for n in ("max_position_embeddings", "n_positions", "n_ctx")) if isinstance(v, int)),
            None,
        )
        if given is not None:
            if int(given) < 1:
                raise ValueError(f"max_length must be positive; got {given}")
            if limit is not None and given > limit:
                raise ValueError(f"max_length={given} is longer than {self.ref.name!r} can read ({limit} positions)")
            return int(given)
        candidates = [self.ref.settings.get("max_length"), getattr(self.processor, "model_max_length", None)]
        for value in candidates:
            if isinstance(value, int) and 0 < value < _UNBOUNDED:
                return min(value, limit) if limit else value
        return limit or 512

    def _texts(self, frame: pd.DataFrame, column: str) -> list[str]:
        texts = frame[column].tolist()
        bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
        if bad:
            ids = examples(frame["id"].to_numpy()[bad])
            raise TypeError(f"column {column!r} must hold strings; {len(bad)} row(s) do not, e.g. ids {ids}")
        if not self._options["chat_template"]:
            return texts
        system = self._options["system_prompt"]
        prefix = [{"role": "system", "content": system}] if system is not None else []
        conversations = [[*prefix, {"role": "user", "content": text}] for text in texts]
        try:
            return self.processor.apply_chat_template(conversations, tokenize=False, add_generation_prompt=True)
        except Exception as exc:  # jinja raises its own types (e.g. a template that rejects system messages)
            raise ValueError(f"the chat template of {self.ref.name!r} failed: {exc}") from None

    def _warn_truncated(self, texts: list[str], lengths: np.ndarray, frame: pd.DataFrame, templated: bool) -> int:
        # only texts that hit the limit can have been cut; re-tokenize those alone
        candidates = np.flatnonzero(lengths >= self.max_length)
        if candidates.size == 0:
            return 0
        full = self.processor(
            [texts[i] for i in candidates], add_special_tokens=not templated, truncation=False, verbose=False,
            return_attention_mask=False,
        )["input_ids"]
        cut = candidates[[len(ids) > lengths[i] for ids, i in zip(full, candidates)]]
        if cut.size:
            warn(
                f"{cut.size} text(s) are longer than max_length={self.max_length} tokens and were truncated, "
                f"e.g. ids {examples(frame['id'].to_numpy()[cut])}"
            )
        return int(cut.size)

    def _prepare(self, frame: pd.DataFrame, column: str, pooling: str) -> Prepared:
        templated = self._options["chat_template"]
        texts = self._texts(frame, column)
        per_token = pooling == "tokens"
        encoded = self.processor(
            texts, add_special_tokens=not templated, truncation=True, max_length=self.max_length,
            return_attention_mask=False, return_token_type_ids=False, return_special_tokens_mask=per_token,
            verbose=False,
        )
        ids = encoded["input_ids"]
        n = len(ids)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise ValueError(
                f"{empty.size} text(s) give no tokens at all (empty text with a tokenizer that adds no special "
                f"tokens), e.g. ids {examples(frame['id'].to_numpy()[empty])}"
            )
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        offsets = np.cumsum(lengths) - lengths
        pad_id = next((v for v in (self.processor.pad_token_id, self.processor.eos_token_id) if v is not None), 0)
        notes = {"truncated": self._warn_truncated(texts, lengths, frame, templated)}

        if per_token:
            keep_flat = ~np.fromiter(
                itertools.chain.from_iterable(encoded["special_tokens_mask"]), dtype=bool, count=flat.size
            )
            counts = np.add.reduceat(keep_flat.astype(np.int64), offsets)
            row_start = np.cumsum(counts) - counts
            row_sample = np.repeat(np.arange(n), counts)
            positions = (np.arange(flat.size) - np.repeat(offsets, lengths))[keep_flat]
            sample_ids = frame["id"].to_numpy()[row_sample]
            rows = pd.DataFrame(
                {
                    "id": pd.Series(sample_ids).astype(str) + ":" + pd.Series(positions).astype(str),
                    "sample_id": sample_ids,
                    "position": positions,
                    "token": self.processor.convert_ids_to_tokens(flat[keep_flat].tolist()),
                }
            )
            if (counts == 0).any():
                notes["samples_without_tokens"] = int((counts == 0).sum())
        else:
            keep_flat = counts = row_start = None
            row_sample = np.arange(n)
            rows = pd.DataFrame({"id": frame["id"].to_numpy()})

        def load(batch: np.ndarray) -> Batch:
            batch_lengths = lengths[batch]
            grid = np.arange(int(batch_lengths.max()))
            mask = grid[None, :] < batch_lengths[:, None]
            index = np.where(mask, offsets[batch][:, None] + grid[None, :], 0)
            input_ids = np.where(mask, flat[index], pad_id)
            inputs = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}
            if per_token:
                keep = torch.from_numpy(mask & keep_flat[index])
                return Batch(inputs, ranges_index(row_start[batch], counts[batch]), torch.from_numpy(batch_lengths), keep=keep)
            return Batch(inputs, batch, torch.from_numpy(batch_lengths))

        return Prepared(lengths=lengths, rows=rows, row_sample=row_sample, load=load, notes=notes)
