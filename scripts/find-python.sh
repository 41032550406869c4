#!/bin/sh
# Print the path of a Python >= 3.12 interpreter, or explain what to install.
# Tried in order: $PYTHON, python3.13, python3.12, python3, python, then pyenv's
# installs under ~/.pyenv/versions (where these machines keep 3.12 and 3.13).
ok() {
    "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1
}
for cand in "${PYTHON:-}" python3.13 python3.12 python3 python; do
    [ -n "$cand" ] || continue
    path=$(command -v "$cand" 2>/dev/null) || continue
    if ok "$path"; then
        echo "$path"
        exit 0
    fi
done
for path in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.* 2>/dev/null); do
    if ok "$path/bin/python"; then
        echo "$path/bin/python"
        exit 0
    fi
done
echo "vibench needs Python >= 3.12 (with venv): install python3.12 or newer (e.g. 'apt-get install python3.12-venv', 'brew install python@3.12' or pyenv), or set PYTHON=/path/to/python3.12" >&2
exit 1
