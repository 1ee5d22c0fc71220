"""Classical image features (HOG, pixels) as an encoder."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from threadpoolctl import threadpool_limits

from workbench.datasets import make_faces
from workbench.encoders.image_features import encode_image_features, hog, image_array


def test_hog_ignores_brightness_and_sees_orientation():
    rng = np.random.default_rng(0)
    image = rng.random((32, 32))
    assert np.allclose(hog(image), hog(0.5 * image + 0.2), atol=1e-6)  # gradients scale, blocks renormalise
    stripes_across = np.tile((np.arange(32) // 4) % 2, (32, 1)).astype(float)  # vertical edges
    stripes_down = stripes_across.T
    across, down = hog(stripes_across).reshape(-1, 9), hog(stripes_down).reshape(-1, 9)
    assert across.sum(axis=0).argmax() == 0 and down.sum(axis=0).argmax() == 4  # 0 and 90 degrees


def test_encode_shapes_and_inputs():
    faces = make_faces(1, emotions=["joy", "anger"], size=64)
    space = encode_image_features(faces)
    assert space.shape == (6, 7 * 7 * 4 * 9) and space.ids.tolist() == faces["id"].tolist()
    pixels = encode_image_features(list(faces["image"]), method="pixels", size=8)
    assert pixels.shape == (6, 8 * 8 * 3) and 0 <= pixels.numpy().min() and pixels.numpy().max() <= 1
    array = np.asarray(faces["image"].iloc[0])
    assert np.allclose(image_array(array, size=16), image_array(faces["image"].iloc[0], size=16))
    with pytest.raises(ValueError, match="method must be"):
        encode_image_features(faces, method="sift")
    with pytest.raises(ValueError, match="at least 2 x 2 cells"):
        encode_image_features(faces, size=8)


def test_hog_separates_the_face_expressions():
    faces = make_faces(3, size=64, seed=1)
    space = encode_image_features(faces)
    with threadpool_limits(1):  # a tiny problem: BLAS threads only slow it down on a shared machine
        accuracy = cross_val_score(LogisticRegression(max_iter=2000), space.numpy(), space.labels("emotion"), cv=3).mean()
    assert accuracy > 0.5  # chance is 1/7
