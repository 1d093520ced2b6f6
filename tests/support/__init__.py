"""What the tests share, and the benchmarks that drive a browser or a cluster use too.

- ``synthetic``: images made in code (the suite never reads ../shared);
- ``browser``: a real ``streamlit run`` server and the page helpers that drive it in Chromium;
- ``raycluster``: a local Ray cluster on the loopback interface;
- ``apptest``: Streamlit AppTest helpers, and ``wait_for``, the one poll-until-true every tier uses;
- ``clips``: video clips made in code.

Plain modules, no fixtures: those live in tests/conftest.py and tests/e2e/conftest.py.
"""
