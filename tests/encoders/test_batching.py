"""The hot loop's helpers: buckets, index ranges, prefetch, buffers, pooling, media readers."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from workbench.encoders.batching import (
    LayerBuffers,
    plan_batches,
    prefetch,
    ranges_index,
)
from workbench.encoders.pooling import pool, select_steps
from workbench.media import MediaError, media_digest, read_audio, read_image


@given(st.lists(st.integers(0, 50), min_size=1, max_size=60), st.integers(1, 9), st.booleans())
@settings(max_examples=examples(60), deadline=None)
def test_batches_are_a_permutation_sorted_longest_first(lengths, batch_size, sort):
    batches = plan_batches(lengths, batch_size, sort=sort)
    order = np.concatenate(batches)
    assert sorted(order.tolist()) == list(range(len(lengths)))
    assert all(len(b) <= batch_size for b in batches)
    ordered = np.asarray(lengths)[order]
    if sort:
        assert (np.diff(ordered) <= 0).all()
    else:
        assert order.tolist() == list(range(len(lengths)))


def test_ranges_index_and_bad_batch_size():
    assert ranges_index(np.array([5, 0, 9]), np.array([2, 0, 1])).tolist() == [5, 6, 9]
    assert ranges_index(np.array([1]), np.array([0])).size == 0
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        plan_batches([1, 2], 0)


def test_prefetch_keeps_order_surfaces_errors_and_stops():
    assert list(prefetch(lambda x: x * x, range(7))) == [x * x for x in range(7)]

    def fail_at_three(x):
        if x == 3:
            raise KeyError("three")
        return x

    seen = []
    with pytest.raises(KeyError, match="three"):
        for value in prefetch(fail_at_three, range(10)):
            seen.append(value)
    assert seen == [0, 1, 2]
    before = threading.active_count()
    iterator = prefetch(lambda x: x, range(10_000))
    next(iterator)
    iterator.close()  # the worker must not be left blocked on a full queue
    assert threading.active_count() <= before


def test_buffers_write_rows_in_place_and_drop_skipped():
    buffers = LayerBuffers(4)
    buffers.write(np.array([2, 0]), [torch.tensor([[2.0], [0.0]]), torch.tensor([[20.0], [0.0]])])
    buffers.write(np.array([3, 1]), [torch.tensor([[3.0], [1.0]]), torch.tensor([[30.0], [10.0]])])
    first, second = buffers.result()
    assert first.flatten().tolist() == [0, 1, 2, 3] and second.flatten().tolist() == [0, 10, 20, 30]
    kept = buffers.result(np.array([True, False, True, True]))
    assert kept[0].flatten().tolist() == [0, 2, 3]


def test_pooling_ignores_padding_even_when_it_is_not_finite():
    hidden = torch.arange(24.0).reshape(2, 4, 3)
    hidden[1, 3] = float("nan")  # a padding step gone bad
    mask = torch.tensor([[True, True, True, True], [True, True, True, False]])
    lengths = mask.sum(1)
    mean = pool(hidden, "mean", mask=mask, lengths=lengths)
    torch.testing.assert_close(mean, torch.stack([hidden[0].mean(0), hidden[1, :3].mean(0)]))
    assert pool(hidden, "last", lengths=lengths)[1].tolist() == hidden[1, 2].tolist()
    assert pool(hidden, "cls").tolist() == hidden[:, 0].tolist()
    assert select_steps(hidden, mask).shape == (7, 3)
    assert pool(torch.ones(2, 5, 3, 3), "mean").shape == (2, 5)
    with pytest.raises(ValueError, match="feature maps"):
        pool(torch.ones(2, 5, 3, 3), "cls")
    assert pool(hidden.to(torch.bfloat16), "cls").dtype == torch.float32


def test_read_audio_mono_resampled_and_named_errors():
    stereo = np.stack([np.ones(8000, np.float32), np.zeros(8000, np.float32)])
    mono = read_audio(stereo, 16000, default_rate=8000)
    assert mono.shape == (16000,) and mono.dtype == np.float32
    assert abs(float(mono[4000:12000].mean()) - 0.5) < 1e-3
    with pytest.raises(MediaError, match=r"row 'r1': cannot read audio: .*NaN"):
        read_audio(np.array([0.0, np.nan]), 16000, default_rate=16000, row="r1")
    with pytest.raises(MediaError, match=r"row 7 \(/no/such\.wav\)"):
        read_audio("/no/such.wav", 16000, row=7)


def test_read_image_from_arrays_and_digest_follows_content(tmp_path):
    gray = read_image(np.linspace(0, 1, 12).reshape(3, 4))
    assert gray.mode == "RGB" and gray.size == (4, 3)
    assert np.asarray(gray)[0, 0].tolist() == [0, 0, 0] and np.asarray(gray)[-1, -1].tolist() == [255, 255, 255]
    with pytest.raises(MediaError, match="row 'x': cannot read image"):
        read_image(np.zeros((2, 2, 2, 2)), row="x")
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    first = media_digest([str(path), np.zeros(3)])
    path.write_bytes(b"other content")
    assert media_digest([str(path), np.zeros(3)]) != first
    assert media_digest([np.zeros(3)]) != media_digest([np.ones(3)])
