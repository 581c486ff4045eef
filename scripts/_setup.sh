# Shared by scripts/test and scripts/demo: a project venv with the package installed, idempotent and quiet.
# `setup_env demo` installs the package and the embedded Milvus only (the `demo` extra); `setup_env test` adds
# everything the suite and scripts/lint need (the `test` extra, which includes `demo`) to the same .venv.
setup_env() {
  local purpose=$1
  case $purpose in
    demo | test) ;;
    *) echo "setup_env: unknown purpose '$purpose' (demo or test)" >&2; return 2 ;;
  esac
  local python=${PYTHON:-python3}
  if [ ! -x .venv/bin/python ]; then
    echo "creating .venv with $($python --version)" >&2
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  echo "installing milvus-backup and its $purpose dependencies into .venv" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$purpose]"
  # The REST server's page is tested in headless Chromium (Debian's; tests run as root, CI too).
  if [ "$purpose" = test ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    echo "installing chromium and chromium-driver (apt) for the web page test" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >&2
  fi
  if [ "$purpose" = test ] && [ ! -x .cache/npm/node_modules/.bin/azurite ]; then
    echo "installing Azurite (npm) into .cache/npm" >&2
    npm install --silent --no-audit --no-fund --prefix .cache/npm azurite@3.37.0 >&2
  fi
  if [ "$purpose" = test ]; then
    # Older Milvus servers for the version tests: the same PyPI package as the venv's 2.3.5, so each lives in its
    # own directory (the rig reads the package's data from there; nothing imports it).
    local version
    for version in 2.2.16 2.2.8; do
      if [ ! -f ".cache/milvus-$version-pkg/milvus/__init__.py" ]; then
        echo "unpacking Milvus $version (PyPI milvus==$version) into .cache/milvus-$version-pkg" >&2
        .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
          --target ".cache/milvus-$version-pkg" "milvus==$version" >&2
      fi
    done
  fi
}
