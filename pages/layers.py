"""Layer explorer: content and style reconstructions from VGG19 layers, as in Gatys et al., Fig. 1."""

from __future__ import annotations

import streamlit as st

from studio.views.explorer import KINDS, ReconstructionError, render_kind
from studio.session.identity import browser_token
from studio.session.resources import default_device
from studio.session import state, text
from studio.session.uploads import kept_uploads, shown_width

st.title("Layer explorer")
st.markdown(
    "Each picture starts from noise and is optimised until one part of VGG19 sees it as it sees your image. "
    "**Content reconstructions** match one layer's activations: early layers keep almost every pixel, deep ones "
    "keep the objects and their arrangement but lose exact colours and texture. **Style reconstructions** match "
    "the Gram matrices (feature correlations) of more and more layers: the textures grow from fine grain to "
    "large structures, while the layout is gone."
)

uploads = kept_uploads("Image", "explorer_file")
upload = uploads[0] if uploads else None
WIDGETS = ("explorer_size", "explorer_steps")
state.restore_widgets(*WIDGETS)
st.session_state.setdefault("explorer_size", 128)
st.session_state.setdefault("explorer_steps", 100)
size_col, steps_col = st.columns(2)
size = size_col.select_slider("Size (px)", [32, 64, 96, 128, 192, 256], key="explorer_size",
                              help="Max side of each reconstruction. Time grows with its square.")
steps = steps_col.number_input("Steps per image", min_value=1, max_value=2000, step=25,
                               key="explorer_steps", help="L-BFGS steps for each reconstruction.")
state.keep_widgets(*WIDGETS)
if upload is None:
    st.info("Upload an image to explore what each layer keeps of it.")
    st.stop()
st.image(upload.thumb, caption=text.literal(upload.name), width=shown_width(upload.thumb, 160))

device = default_device()
requested: dict[str, tuple] = st.session_state.setdefault("explorer_requested", {})
signature = (upload.digest, size, steps, device)
for kind, (title, layer_sets, _) in KINDS.items():
    st.subheader(title)
    if st.button(f"Render {title.lower()}", key=f"render_{kind}"):
        requested[kind] = signature
    if requested.get(kind) != signature:
        st.caption(f"{len(layer_sets)} images of {size} px × {steps} steps; rendered on demand and cached.")
        continue
    try:
        render_kind(browser_token(), kind, upload, size, steps, device)
    except ReconstructionError as exc:
        text.say("error", str(exc))
        requested.pop(kind, None)
