#!/usr/bin/env bash
# Runs the Dockerfile's steps without Docker, for machines with no container engine:
# stage 1 (build avisa's wheel, install it into a fresh venv) in a temporary directory,
# then what the image does at run time (init, serve, the HEALTHCHECK command, readyz,
# SIGTERM). Usage: deploy/docker/check-recipe.sh [python3.11]. Nothing is left behind.
# It binds 127.0.0.1 (not the image's 0.0.0.0): this check talks to no other host.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${1:-python3.11}
work=$(mktemp -d /tmp/avisa-recipe.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -KILL "$server"; fi
    rm -rf "$work"
}
trap cleanup EXIT

echo "recipe: stage 1, as in the Dockerfile: the context is what .dockerignore lets in"
mkdir -p "$work/src"
cp pyproject.toml README.md "$work/src/"
cp -r src "$work/src/src"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
(cd "$work/src" && "$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheels" .)
"$python" -m venv "$work/opt-avisa"
"$work/opt-avisa/bin/pip" install --quiet --disable-pip-version-check "$work"/wheels/avisa-*.whl

echo "recipe: every file of src/avisa is in the wheel (templates, migrations, py.typed)"
"$work/opt-avisa/bin/python" - "$work"/wheels/avisa-*.whl <<'PY'
import pathlib, sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
tree = {
    str(p.relative_to("src"))
    for p in pathlib.Path("src/avisa").rglob("*")
    if p.is_file() and "__pycache__" not in p.parts
}
missing = sorted(tree - names)
if missing:
    sys.exit(f"recipe: missing from the wheel: {missing}")
print(f"recipe: {len(tree)} files, all in {pathlib.Path(sys.argv[1]).name}")
PY

echo "recipe: stage 2, run as the image does (from the data dir, avisa on PATH)"
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -m 0700 "$work/data"
cd "$work/data"
export PATH="$work/opt-avisa/bin:$PATH" PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
export AVISA_DATA_DIR="$work/data" AVISA_HOST=127.0.0.1 AVISA_PORT="$port" AVISA_LOG_FORMAT=json
export AVISA_PUBLIC_URL="http://127.0.0.1:$port"
avisa init
avisa serve >"$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
    # The Dockerfile's HEALTHCHECK command, verbatim.
    if python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('AVISA_PORT', '8000'), timeout=4)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
python - <<'PY'
import json, os, urllib.request
base = f"http://127.0.0.1:{os.environ['AVISA_PORT']}"
with urllib.request.urlopen(f"{base}/healthz", timeout=5) as answer:
    print("recipe: /healthz", answer.status, answer.read().decode())
with urllib.request.urlopen(f"{base}/readyz", timeout=5) as answer:
    body = json.loads(answer.read())
    print("recipe: /readyz", answer.status, json.dumps(body))
    assert body["status"] == "ready", body
PY
avisa migrate status
kill -TERM "$server"
code=0
wait "$server" || code=$?
server=""
echo "recipe: avisa serve stopped on SIGTERM (exit $code)"
echo "recipe: ok"
