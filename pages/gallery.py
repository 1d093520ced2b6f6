"""Gallery: every result of this session, side-by-side comparison and downloads."""

from __future__ import annotations

import streamlit as st

from studio.charts import loss_chart
from studio.results import Result, download_buttons, gallery, zip_bytes

st.title("Gallery")
results = gallery()
if not results:
    st.info("No results yet in this session. Make one on the Stylize page.")
    st.stop()

st.download_button("Download all (ZIP)", lambda: zip_bytes(results), file_name="nst-results.zip",
                   mime="application/zip", on_click="ignore",
                   help="Every result's PNG (recipe embedded), settings JSON and losses CSV.")

if len(results) > 1:
    st.subheader("Compare")
    titles = {r.number: r.title for r in results}
    left, right = st.columns(2)
    for column, default, key in ((left, len(results) - 2, "compare_a"), (right, len(results) - 1, "compare_b")):
        with column:
            number = st.selectbox("Result", list(titles), index=default, key=key, format_func=titles.get)
            chosen: Result = next(r for r in results if r.number == number)
            st.image(chosen.image, caption=chosen.title)
            st.json(chosen.settings.to_dict(), expanded=False)

st.subheader("All results")
for result in reversed(results):
    with st.container(border=True):
        thumb, info = st.columns([1, 3])
        thumb.image(result.thumb, caption=f"#{result.number}")
        with info:
            st.markdown(f"**{result.title}**  \nStyles: {', '.join(result.style_names) or 'none'}")
            s = result.settings
            st.caption(f"{s.size} px · {s.steps} steps · {s.optimizer} · α={s.content_weight:g} β={s.style_weight:g}"
                       f" γ={s.tv_weight:g} · init {s.init} · colour {s.preserve_color} · seed {s.seed}"
                       f" · {result.elapsed:.1f} s")
            st.markdown("Final losses: " + ", ".join(f"{k} {v:.4g}" for k, v in result.losses.items()))
            with st.expander("Settings and loss curve"):
                st.json(s.to_dict(), expanded=False)
                loss_chart(result.rows, height=200)
            download_buttons(result, key=f"gallery-{result.number}")
