# Neural Style Transfer studio: the Streamlit app on port 8501.
#
#   docker build -t nst-studio .
#   docker run --rm -p 8501:8501 nst-studio
#
# The studio listens on 0.0.0.0:8501 inside the container, which a port mapping (-p) needs. Arguments
# after the image name go to `streamlit run`, so with the host's network it can serve this machine
# only:  docker run --rm --network host nst-studio --server.address=127.0.0.1
# Change the port with -e STREAMLIT_SERVER_PORT=N (the health check follows that variable).
# The command line instead of the studio (--user: write the output as you, not as uid 10001):
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" --entrypoint python nst-studio \
#       -m nst /data/c.jpg /data/s.jpg -o /data/out.png
# bench/docker_check.sh builds this image and checks the studio and the CLI in it (docs/testing.md).
#
# requirements.txt pins torch/torchvision; from PyPI those are the CUDA builds (large). For a
# CPU-only image add the PyTorch CPU index, whose "+cpu" builds satisfy the same pins:
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu -t nst-studio:cpu .
# With Ray, for the nodes of a cluster (docker-compose.yml; docs/scale-out.md):
#   docker build --build-arg WITH_RAY=1 -t nst-studio:ray .
FROM python:3.11-slim

ARG TORCH_INDEX=""
ARG WITH_RAY=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    STREAMLIT_SERVER_HEADLESS=true \
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501

WORKDIR /app

COPY requirements.txt requirements-ray.txt ./
RUN pip install --no-cache-dir ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} -r requirements.txt \
    && if [ -n "$WITH_RAY" ]; then pip install --no-cache-dir -r requirements-ray.txt; fi

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app

# .dockerignore admits only the app's files (app.py, nst/, pages/, studio/, .streamlit/).
COPY --chown=root:root . .

USER app

EXPOSE 8501

# Reads the port from the environment, so -e STREAMLIT_SERVER_PORT=N keeps it right.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os,sys,urllib.request; url='http://127.0.0.1:%s/_stcore/health' % os.environ.get('STREAMLIT_SERVER_PORT','8501'); sys.exit(0 if urllib.request.urlopen(url).read()==b'ok' else 1)"

# Address and port come from the STREAMLIT_SERVER_* variables above; flags given after the image
# name (docker run ... nst-studio --server.address=127.0.0.1) are appended here and win over them.
ENTRYPOINT ["streamlit", "run", "app.py", "--server.fileWatcherType=none"]
