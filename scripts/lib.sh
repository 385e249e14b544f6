# Shell helpers shared by scripts/test and scripts/dev (source it; not run on
# its own): the Python venv with the pinned tools, and a moto server on a
# fresh local port.

VENV=${VENV:-.venv}

# Creates $VENV and installs scripts/requirements-test.txt into it, again
# only when that file changes.
ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.requirements-test.sha" want
    want=$(sha256sum scripts/requirements-test.txt | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
        echo "$want" > "$stamp"
    fi
}

free_port() {
    "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts moto's server on a fresh port (moto keeps state for as long as it
# runs) and sets MOTO_PID, MOTO_LOG and MOTO_ENDPOINT. The caller stops it.
start_moto() {
    local port
    port=$(free_port)
    MOTO_LOG=$(mktemp)
    "$VENV/bin/python" scripts/moto-server -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
    MOTO_PID=$!
    MOTO_ENDPOINT="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        if "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
            "$MOTO_ENDPOINT/moto-api/" >/dev/null 2>&1; then
            return 0
        fi
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            cat "$MOTO_LOG"; echo "moto failed to start" >&2; return 1
        fi
        sleep 0.2
    done
    cat "$MOTO_LOG"; echo "moto did not answer on $MOTO_ENDPOINT" >&2
    return 1
}

# Fake credentials for moto, and no lookups of real ones.
use_moto_credentials() {
    export AWS_ENDPOINT_URL="$MOTO_ENDPOINT"
    export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=${AWS_REGION:-us-east-1}
    export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

# What `sam build` needs beyond the venv's cargo-lambda and ziglang: the
# arm64 Rust target the functions are cross-compiled for. rustup fetches it
# from its own distribution server, like the toolchain itself.
ensure_arm64_target() {
    local target=aarch64-unknown-linux-gnu
    if ! rustup target list --installed | grep -qx "$target"; then
        rustup target add "$target"
    fi
}

# Installs Debian's package $2 when command $1 is missing, as root or
# through sudo (`apt-get update` only if the install needs it).
ensure_debian_package() {
    local command=$1 package=$2 sudo=()
    if command -v "$command" >/dev/null; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    echo "installing $package (apt-get)" >&2
    install() {
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package"
    }
    install || { "${sudo[@]}" apt-get update && install; }
}
