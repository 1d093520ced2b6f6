"""Neural Style Transfer studio: the Streamlit entry point (``streamlit run app.py``)."""

import streamlit as st

from studio import runs

st.set_page_config(page_title="Neural Style Transfer studio", page_icon="🎨", layout="wide")
runs.collect()  # a run that finished while another page was open joins the gallery now

page = st.navigation([
    st.Page("pages/stylize.py", title="Stylize", icon=":material/brush:", default=True),
    st.Page("pages/gallery.py", title="Gallery", icon=":material/photo_library:"),
    st.Page("pages/layers.py", title="Layer explorer", icon=":material/layers:"),
    st.Page("pages/how_it_works.py", title="How it works", icon=":material/menu_book:"),
])
page.run()
