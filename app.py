"""Neural Style Transfer studio: the Streamlit entry point (``streamlit run app.py``)."""

import streamlit as st

from studio.services import clip_jobs
from studio.views import runs
from studio.session.identity import browser_token

st.set_page_config(page_title="Neural Style Transfer studio", page_icon="🎨", layout="wide")
# Streamlit's default top padding (6 rem) would push the live view below the fold on a 720 px screen.
st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 2.5rem; }</style>")

STYLIZE = st.Page("pages/stylize.py", title="Stylize", icon=":material/brush:", default=True)
VIDEO = st.Page("pages/video.py", title="Video", icon=":material/movie:")
page = st.navigation([
    STYLIZE,
    VIDEO,
    st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
    st.Page("pages/layers.py", title="Layer explorer", icon=":material/layers:"),
    st.Page("pages/how_it_works.py", title="How it works", icon=":material/menu_book:"),
])
if page.url_path != STYLIZE.url_path and runs.running(browser_token()):
    with st.sidebar:  # a run goes on while another page is open: say so, with the way back
        st.page_link(STYLIZE, label="A run is in progress — watch it", icon=":material/hourglass_top:")
if page.url_path != VIDEO.url_path and clip_jobs.running(browser_token()):
    with st.sidebar:
        st.page_link(VIDEO, label="A clip is being styled — watch it", icon=":material/hourglass_top:")
page.run()
