# Shared by scripts/try, scripts/test and subjects/tikv-sim/build-image.sh (sourced, with the
# repository root as the current directory).

# as_root SCRIPT: runs a .ci/ensure-* script as root (through sudo when not root). Those scripts
# only check when everything is present, but installing packages and starting dockerd need root.
as_root() {
  if [ "$(id -u)" = 0 ]; then
    bash "$@"
  elif command -v sudo >/dev/null; then
    sudo --preserve-env=DOCKER_HOST,DOCKERD_LOG bash "$@"
  else
    echo "error: $* needs root (to install packages or start dockerd) and there is no sudo" >&2
    return 1
  fi
}

# The cargo target directory (CARGO_TARGET_DIR or ./target).
target_dir() { echo "${CARGO_TARGET_DIR:-$PWD/target}"; }

# build_release [CARGO ARGS]: builds chaosplay and tikv-sim in one release build. Both together on purpose:
# building one package alone resolves its dependencies' features differently and rebuilds
# them (tokio, clap, serde_json… are shared), so every script and build-image.sh runs this
# exact command and the second one finds everything fresh.
build_release() {
  cargo build --release --locked --workspace --bins "$@"
}
