"""Gallery: every result of this browser (pictures and clips), a side-by-side comparison and downloads."""

from __future__ import annotations

import streamlit as st

from studio.views import runs
from studio.views.before_after import compare_view
from studio.views.gallery_cards import grid_download, result_card, undo_bar
from studio.session.identity import browser_token
from studio.session.results import results, zip_bytes

owner = browser_token()
st.title("Gallery")
if runs.running(owner):
    st.info("A run is in progress; its result joins the gallery when it ends.")
    st.page_link("pages/stylize.py", label="Watch it on the Stylize page", icon=":material/brush:")
undo_bar(owner)
found = results(owner, "all")  # pictures and clips
if not found:
    if not runs.running(owner):
        st.info("No results yet. Make one on the Stylize or the Video page.")
    st.stop()

st.download_button("Download all (ZIP)", lambda: zip_bytes(found), file_name="nst-results.zip",
                   mime="application/zip", on_click="ignore",
                   help="Every result's PNG (recipe embedded), settings JSON and losses CSV.")
grid_download(found)
if len(found) > 1:
    st.subheader("Compare")
    compare_view(found)

st.subheader("All results")
for result in reversed(found):
    result_card(owner, result)
