#!/usr/bin/env sh
# PYTHON for emissary-reference/run.sh: runs emissary-batch.py with the first python3 that has
# orjson and yaml (as run.sh would pick), under the module path run.sh prepared.
for py in python3 python3.11; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import orjson, yaml' 2>/dev/null; then
    exec "$py" "$(dirname "$0")/emissary-batch.py" "$@"
  fi
done
echo "no python3 with orjson+yaml found" >&2
exit 1
