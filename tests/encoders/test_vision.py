"""Vision encoders through the public path: tiny ViT, CLIP vision model, a full CLIP model; real image files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import workbench as wb


def _direct(folder, image: Image.Image, tower: bool = False) -> torch.Tensor:
    """All hidden states of one image, straight through transformers: (layers, tokens, width)."""
    from transformers import AutoImageProcessor, AutoModel

    processor = AutoImageProcessor.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    model = model.vision_model if tower else model
    with torch.inference_mode():
        hidden = model(pixel_values=processor(images=image, return_tensors="pt")["pixel_values"], output_hidden_states=True).hidden_states
    return torch.stack(hidden)[:, 0]


@pytest.mark.parametrize("kind", ["vit", "clip_vision"])
def test_cls_and_mean_pooling(tiny_models, image_files, kind):
    folder = tiny_models(kind)
    frame = pd.DataFrame({"id": ["w", "t"], "image": [str(image_files["wide"]), str(image_files["tall"])]})
    cls = wb.encode(folder, frame, pooling="cls", cache=False, progress=False)
    mean = wb.encode(folder, frame, pooling="mean", cache=False, progress=False)
    hidden = _direct(folder, Image.open(image_files["tall"]).convert("RGB"))
    torch.testing.assert_close(cls.tensor()[:, 1], hidden[:, 0], atol=1e-5, rtol=1e-4)
    # mean over the 16 patch tokens, without the CLS token
    assert hidden.shape[1] == 17 and mean.provenance["patches"] == 16
    torch.testing.assert_close(mean.tensor()[:, 1], hidden[:, 1:].mean(dim=1), atol=1e-5, rtol=1e-4)


def test_paths_pil_arrays_and_dicts_agree(tiny_models, image_files):
    folder = tiny_models("vit")
    image = Image.open(image_files["wide"]).convert("RGB")
    pixels = np.asarray(image)
    frame = pd.DataFrame(
        {
            "id": ["path", "pil", "uint8", "float", "channels-first", "dict"],
            "image": [
                str(image_files["wide"]), image, pixels, pixels / 255.0, np.moveaxis(pixels, -1, 0),
                {"bytes": image_files["wide"].read_bytes(), "path": None},
            ],
        }
    )
    stack = wb.encode(folder, frame, batch_size=4, cache=False, progress=False)
    vectors = stack[-1].vectors
    for row in range(1, len(frame)):
        torch.testing.assert_close(vectors[row], vectors[0], atol=1e-5, rtol=1e-4)


def test_full_clip_model_uses_its_vision_tower(extra_models, image_files):
    folder = extra_models("clip")
    frame = pd.DataFrame({"id": [1], "image": [str(image_files["tall"])]})
    stack = wb.encode(folder, frame, pooling="cls", cache=False, progress=False)
    assert stack.layers == [0, 1, 2, 3] and stack.provenance["architecture"].startswith("CLIPVision")
    hidden = _direct(folder, Image.open(image_files["tall"]).convert("RGB"), tower=True)
    torch.testing.assert_close(stack.tensor()[:, 0], hidden[:, 0], atol=1e-5, rtol=1e-4)


def test_unreadable_image_is_named_or_skipped(tiny_models, image_files):
    folder = tiny_models("vit")
    frame = pd.DataFrame({"id": ["ok", "bad"], "image": [str(image_files["wide"]), str(image_files["broken"])]})
    with pytest.raises(wb.encoders.MediaError, match=r"row 'bad' \(.*broken\.png\): cannot read image"):
        wb.encode(folder, frame, cache=False, progress=False)
    with pytest.warns(UserWarning, match="could not be read and were skipped"):
        stack = wb.encode(folder, frame, on_error="skip", cache=False, progress=False)
    assert stack.ids.tolist() == ["ok"] and stack.provenance["skipped"][0]["id"] == "bad"
