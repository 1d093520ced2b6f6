# Neural Style Transfer studio: the Streamlit app on port 8501.
#
#   docker build -t nst-studio .
#   docker run --rm -p 8501:8501 nst-studio
#
# requirements.txt pins torch/torchvision; from PyPI those are the CUDA builds (large). For a
# CPU-only image add the PyTorch CPU index, whose "+cpu" builds satisfy the same pins:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu -t nst-studio:cpu .
# With Ray, for the nodes of a cluster (docker-compose.yml; README "Scale out"):
#   docker build --build-arg WITH_RAY=1 -t nst-studio:ray .
FROM python:3.11-slim

ARG TORCH_INDEX=""
ARG WITH_RAY=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true

WORKDIR /app

COPY requirements.txt requirements-ray.txt ./
RUN pip install --no-cache-dir ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} -r requirements.txt \
    && if [ -n "$WITH_RAY" ]; then pip install --no-cache-dir -r requirements-ray.txt; fi

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

# .dockerignore admits only the app's files (app.py, nst/, pages/, studio/, .streamlit/).
COPY --chown=root:root . .

USER app

EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health').read()==b'ok' else 1)"

ENTRYPOINT ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.fileWatcherType=none"]
