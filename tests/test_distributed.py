"""Encoding through Ray Data on a local two-CPU Ray gives the in-process vectors."""

import time

import numpy as np
import pytest

import workbench as wb
from workbench import LatentSpace, LayerStack

ray = pytest.importorskip("ray")
pytest.importorskip("ray.data")


@pytest.fixture(scope="module")
def local_ray():
    for attempt in range(2):  # a contended machine can miss Ray's start-up deadline once
        try:
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
            break
        except Exception:
            ray.shutdown()
            if attempt:
                raise
            time.sleep(5)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_ray_gives_the_in_process_vectors(local_ray, tiny_models, tmp_path):
    model = tiny_models("bert")
    data = wb.load_emotion_sentences().head(48)
    store = wb.distributed.encode(data, model, tmp_path / "ray", layers=[0, -1], batch_size=8,
                                  concurrency=2, progress=False)  # fmt: skip
    in_process = wb.encode(model, data, layers=[0, -1], batch_size=8, cache=False, progress=False)
    last = in_process.layers[-1]
    assert store.complete and store.layers == [0, last] and store.n == 48
    opened = LayerStack.open(tmp_path / "ray").load()
    assert opened.ids.tolist() == data["id"].tolist()
    assert opened.labels("emotion").tolist() == data["emotion"].tolist()
    for key in (0, last):
        np.testing.assert_allclose(opened[key].numpy(), in_process[key].numpy(), atol=1e-6)
    provenance = LatentSpace.open(tmp_path / "ray", layer=last).provenance
    assert provenance["model"] == in_process[last].provenance["model"]
    assert provenance["dataset"] == in_process[last].provenance["dataset"]  # the whole data's, not a batch's

    # a ray.data.Dataset goes through the same actors
    dataset = ray.data.from_pandas(data.head(24))
    from_dataset = wb.distributed.encode(dataset, model, tmp_path / "dataset", layers=[-1], batch_size=8,
                                         concurrency=1, progress=False)  # fmt: skip
    np.testing.assert_allclose(from_dataset[-1].load().numpy(), in_process[last].numpy()[:24], atol=1e-6)
    assert from_dataset.meta["id"].tolist() == data["id"].tolist()[:24]


def test_clear_errors(tmp_path, minilm_path):
    with pytest.raises(TypeError, match="DataFrame or a ray.data.Dataset"):
        wb.distributed.encode(["a sentence"], minilm_path, tmp_path / "x")
    with pytest.raises(ValueError, match="batch_size"):
        wb.distributed.encode(wb.load_emotion_sentences().head(2), minilm_path, tmp_path / "x", batch_size=0)
