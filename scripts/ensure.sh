# Installs the tools Docket's commands need when they are missing (sourced by run.sh and test.sh).
# Debian/Ubuntu packages through apt-get (as root, or with sudo); elsewhere, say what is missing.

_apt_install() {
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "installing $* needs root: run as root or install them yourself" >&2; return 1; }
        sudo="sudo"
    fi
    command -v apt-get >/dev/null || { echo "please install: $* (no apt-get on this machine)" >&2; return 1; }
    printf '\n==> installing %s\n' "$*"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

# node and npm build the web console (web/, built by docket's build script).
ensure_node() {
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        _apt_install nodejs npm
    fi
    local major
    major=$(node -p 'process.versions.node.split(".")[0]')
    if [ "$major" -lt 18 ]; then
        echo "node $major is too old for the console's build (18 or newer)" >&2
        return 1
    fi
}

# Chromium and its WebDriver run the console's browser tests.
ensure_chromium() {
    if ! command -v chromedriver >/dev/null || ! { command -v chromium >/dev/null || command -v chromium-browser >/dev/null; }; then
        _apt_install chromium chromium-driver
    fi
}
