"""LIDCallback: the mean LID of a probe set, recorded while transformers' Trainer trains."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.tiny_models import _CORPUS
from workbench.training import LIDCallback

# 20 texts in the words the tiny models' tokenizers were trained on, each with its own first word:
# a causal model gives the tokens of a shared prefix identical vectors, which LID would have to merge
_WORDS = sorted({word for sentence in _CORPUS for word in sentence.split()})
PROBE = [f"{word} {sentence}" for word, sentence in zip(_WORDS[:20], _CORPUS * 2)]


def test_probe_forms_and_their_errors():
    frame = pd.DataFrame({"sentence": PROBE})
    assert list(LIDCallback(frame, column="sentence", n_neighbors=5).probe["text"]) == PROBE
    assert len(LIDCallback(pd.Series(PROBE), n_neighbors=5).probe) == len(PROBE)
    with pytest.raises(ValueError, match="no column 'text'"):
        LIDCallback(frame)
    with pytest.raises(ValueError, match="empty or non-text"):
        LIDCallback(["fine", "", "fine too"], n_neighbors=1)
    with pytest.raises(TypeError, match="sequence of texts"):
        LIDCallback("one long string")
    with pytest.raises(ValueError, match="not more than n_neighbors=128"):
        LIDCallback(PROBE)  # 20 texts, one point each
    LIDCallback(PROBE, pooling="tokens")  # tokens: counted when encoded
    with pytest.raises(ValueError, match="every must be"):
        LIDCallback(PROBE, n_neighbors=5, every=0)


@pytest.fixture
def tiny_classifier(tiny_models):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # GPT-2's tiny BPE tokenizer knows the corpus' words (the tiny BERT's maps them all to [UNK],
    # which makes every probe token vector a copy of another)
    folder = tiny_models("gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=2)
    return model, tokenizer


def _trainer(model, tokenizer, callback, tmp_path, **arguments):
    from transformers import Trainer, TrainingArguments

    data = [{**tokenizer(text), "label": i % 2} for i, text in enumerate(_CORPUS)]

    def accuracy(prediction):
        return {"accuracy": float((prediction.predictions.argmax(-1) == prediction.label_ids).mean())}

    args = TrainingArguments(
        output_dir=str(tmp_path), per_device_train_batch_size=5, learning_rate=5e-3, max_steps=4,
        logging_steps=1, save_strategy="no", report_to=[], use_cpu=True, seed=0, **arguments,
    )
    return Trainer(model=model, args=args, train_dataset=data, eval_dataset=data, processing_class=tokenizer,
                   compute_metrics=accuracy, callbacks=[callback])


@pytest.mark.slow
def test_measured_at_every_evaluation_with_the_trainers_metrics(tiny_classifier, tmp_path):
    model, tokenizer = tiny_classifier
    callback = LIDCallback(PROBE, n_neighbors=10, pooling="tokens")  # the tokenizer comes from the Trainer
    trainer = _trainer(model, tokenizer, callback, tmp_path, eval_strategy="steps", eval_steps=2)
    trainer.evaluate()  # step 0: the model before training
    trainer.train()
    history = callback.history
    assert history["step"].tolist() == [0, 2, 4]
    assert {"epoch", "mean_lid", "median_lid", "n_points", "lid_seconds", "train_loss", "eval_loss", "eval_accuracy"} <= set(history)
    assert not any(name.endswith(("_runtime", "_per_second", "_time")) for name in history)
    assert history["n_points"].nunique() == 1 and history["n_points"][0] > len(PROBE)  # tokens, not texts
    assert np.isfinite(history["mean_lid"]).all() and (history["mean_lid"] > 0.5).all()
    assert history["eval_accuracy"].between(0, 1).all()
    assert np.isnan(history["train_loss"][0]) and np.isfinite(history["train_loss"][1:]).all()
    # it measures the model under training: its weights moved, so did the estimate
    assert history["mean_lid"].nunique() == 3


@pytest.mark.slow
def test_every_n_steps_without_evaluations(tiny_classifier, tmp_path):
    model, tokenizer = tiny_classifier
    callback = LIDCallback(PROBE, tokenizer, n_neighbors=10, pooling="tokens", every=2)
    _trainer(model, tokenizer, callback, tmp_path).train()
    history = callback.history
    assert history["step"].tolist() == [2, 4]
    assert "eval_accuracy" not in history


def test_measure_agrees_with_encode_and_the_estimator(tiny_classifier):
    import workbench as wb
    from workbench.geometry.intrinsic import LocalIntrinsicDimension

    model, tokenizer = tiny_classifier
    callback = LIDCallback(PROBE, tokenizer, n_neighbors=10, pooling="tokens", layer=1)
    model.train()
    measured = callback.measure(model)
    assert model.training  # put back in the mode the trainer left it in
    model.eval()
    space = wb.encode(model, callback.probe, processor=tokenizer, layers=[1], pooling="tokens",
                      cache=False, progress=False)[1]
    lid = LocalIntrinsicDimension(n_neighbors=10).fit(space).lid_
    assert measured["n_points"] == len(space)
    assert measured["mean_lid"] == pytest.approx(float(np.nanmean(lid)), rel=1e-5)


def test_a_causal_model_is_measured_where_every_encoder_reads_it(tiny_classifier):
    from workbench.encoders import encode
    from workbench.geometry.intrinsic import LocalIntrinsicDimension

    model, tokenizer = tiny_classifier  # GPT-2: by default read at each text's last real token, as wb.encode does
    measured = LIDCallback(PROBE, tokenizer, n_neighbors=5).measure(model)
    stack = encode(model, pd.DataFrame({"text": PROBE}), processor=tokenizer, layers=[-1], cache=False, progress=False)
    assert stack[stack.layers[-1]].provenance["pooling"] == "last"
    expected = np.nanmean(LocalIntrinsicDimension(n_neighbors=5).fit(stack[stack.layers[-1]]).lid_)
    assert measured["mean_lid"] == pytest.approx(expected, rel=1e-5)
    averaged = LIDCallback(PROBE, tokenizer, n_neighbors=5, pooling="mean").measure(model)
    assert averaged["mean_lid"] != pytest.approx(measured["mean_lid"], rel=1e-3)  # the old default read elsewhere
