"""nst.model.fast.fields.FAST_FIELDS is what the fast method reads: changing any other setting leaves a fast
result bit for bit as it was (the studio hides those controls under the fast method on this rule)."""

from __future__ import annotations

import numpy as np
import pytest

from nst import Settings
from nst.engine import run
from nst.model.fast.fields import FAST_FIELDS
from nst.core.settings import RULES

pytestmark = pytest.mark.unit

OTHER_VALUES = {
    "steps": 7, "optimizer": "adam", "lr": 0.5, "betas": (0.5, 0.9), "eps": 1e-3, "content_weight": 5.0,
    "style_weight": 1.0, "tv_weight": 10.0, "content_layers": ("conv1_1",), "style_layers": ("conv1_1", "conv2_1"),
    "style_layer_weights": (1.0, 2.0, 3.0, 4.0, 5.0), "style_scale": 2.0, "init": "noise", "multiscale": "off",
    "min_scale": 32, "pooling": "avg", "weights": "torchvision", "precision": "fp32", "seed": 7,
    "preview_every": 3,
}


def test_every_setting_the_fast_method_does_not_read_leaves_its_result_unchanged(content_image, style_image):
    assert set(OTHER_VALUES) == set(RULES) - FAST_FIELDS  # every setting is one or the other
    base = Settings(method="fast", size=64, device="cpu")
    reference = run(content_image, [style_image], base).image
    for name, value in OTHER_VALUES.items():
        assert getattr(base, name) != value
        image = run(content_image, [style_image], base.replace(**{name: value})).image
        assert np.array_equal(image, reference), name


def test_the_settings_it_reads_change_it(content_image, style_image):
    base = Settings(method="fast", size=64, device="cpu")
    reference = run(content_image, [style_image], base).image
    for change in ({"strength": 0.5}, {"preserve_color": "luminance"}, {"builtin_styles": (3,)}):
        assert not np.array_equal(run(content_image, [style_image], base.replace(**change)).image, reference), change
