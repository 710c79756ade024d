# Shared by scripts/demo and scripts/test: Debian packages and the project's virtualenv.
# Sourced, not run.

# Install the Debian packages named, if any are missing, as root or through sudo.
install_debian_packages() {
  [ $# -gt 0 ] || return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "maild needs these Debian packages: $*" >&2
      echo "Install them as root, then run this again:  apt-get install -y $*" >&2
      exit 1
    fi
  fi
  echo "Installing Debian packages: $*" >&2
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
}

# Create .venv with maild installed (editable, with the extras named in $1).
make_venv() {
  local extras="${1:-}"
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "maild needs Python 3.11 or newer (Debian 12, Ubuntu 24.04); found: $(python3 --version 2>&1)" >&2
    exit 1
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
}

# python3-venv is a separate package on Debian and Ubuntu.
venv_packages() {
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || echo python3-venv
}
