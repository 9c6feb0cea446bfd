#!/usr/bin/env bash
# teardown_entra_test_pg.sh — deletes what scripts/provision_entra_test_pg.sh created: the whole
# resource group (server, database, firewall rules). Idempotent: a missing group is not an error.
# Same overrides as the provision script (DUROXIDE_PG_ENTRA_PREFIX, _RESOURCE_GROUP).
# Pass --no-wait to return before Azure has finished deleting.
set -euo pipefail

command -v az >/dev/null || { echo "teardown: the Azure CLI (az) is not installed" >&2; exit 1; }
az account show >/dev/null 2>&1 || { echo "teardown: not signed in; run 'az login' first" >&2; exit 1; }

prefix=${DUROXIDE_PG_ENTRA_PREFIX:-duroxidepg}
group=${DUROXIDE_PG_ENTRA_RESOURCE_GROUP:-$prefix-entra-test}

if [ "$(az group exists -n "$group")" != true ]; then
  echo "teardown: resource group $group does not exist; nothing to do" >&2
  exit 0
fi
echo "teardown: deleting resource group $group" >&2
extra=()
[ "${1:-}" = --no-wait ] && extra=(--no-wait)
az group delete -n "$group" --yes "${extra[@]}"
