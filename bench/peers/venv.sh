# Sourced by bench/run_*.sh (with ROOT set): makes or updates the peers'
# virtual environment from bench/peers/requirements.txt (PyPI) and sets VENV
# (EDGE_PEER_VENV, default ~/.cache/edge-peers-venv). Needs python3-venv.
VENV=${EDGE_PEER_VENV:-$HOME/.cache/edge-peers-venv}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q -r "$ROOT/bench/peers/requirements.txt"
