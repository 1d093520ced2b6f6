"""The studio's services: job queue, limiter, policy, store, examples. No Streamlit here."""
