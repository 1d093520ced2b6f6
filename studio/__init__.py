"""Streamlit-side helpers shared by the studio's pages (the engine itself lives in ``nst``)."""
