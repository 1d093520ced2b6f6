"""The one evaluator of the benchmarks: a result's style and content scores, our Gatys losses in
fp32 on the bundled VGG19, whatever tool, precision or weights made the result."""

from __future__ import annotations

import torch
from PIL import Image

from bench.pair import style_side
from nst.core.settings import Settings
from nst.engine import to_tensor
from nst.io.images import resize_max_side
from nst.model.losses import content_loss, gram, style_loss
from nst.model.vgg import load_model


def evaluate(image: Image.Image, content: Image.Image, style: Image.Image,
             settings: Settings) -> dict[str, float]:
    """Our Gatys losses of ``image`` in fp32 on the bundled VGG19, at the image's size: raw
    content, raw style (layer-weighted), and total α·content + β·style."""
    side = max(image.size)
    content = content.resize(image.size, Image.Resampling.LANCZOS) if content.size != image.size else content
    style = resize_max_side(style, style_side(settings, side))
    with torch.no_grad():
        feats = _fp32_features(image, settings.content_layers + settings.style_layers, settings)
        content_feats = _fp32_features(content, settings.content_layers, settings)
        style_feats = _fp32_features(style, settings.style_layers, settings)
        c = sum(float(content_loss(feats[l], content_feats[l])) for l in settings.content_layers)
        s = sum(w * float(style_loss(feats[l], gram(style_feats[l])))
                for l, w in zip(settings.style_layers, settings.layer_weights))
    return {"content": c, "style": s, "total": settings.content_weight * c + settings.style_weight * s}


def _fp32_features(image: Image.Image, layers: tuple[str, ...],
                   settings: Settings) -> dict[str, torch.Tensor]:
    """fp32 CPU features of the bundled VGG19, whatever precision and weights the run used."""
    model = load_model("bundled")
    return model.features(to_tensor(image, torch.device("cpu"))[None], layers, pooling=settings.pooling)


def as_good(ours: dict[str, float], peer: dict[str, float]) -> bool:
    """Whether ``ours`` is at most ``peer`` on both raw terms, content and style: "its quality"."""
    return ours["content"] <= peer["content"] and ours["style"] <= peer["style"]
