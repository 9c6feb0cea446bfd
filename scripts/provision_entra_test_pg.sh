#!/usr/bin/env bash
# provision_entra_test_pg.sh — an Azure Database for PostgreSQL Flexible Server for the live
# Microsoft Entra ID smoke test (tests/auth/entra_live_test.cpp). Idempotent: every step checks
# what exists and creates only what is missing, so running it again is safe and cheap.
#
# Needs the Azure CLI, signed in (`az login`) to the subscription to use. Creates:
#   * a resource group,
#   * a Burstable Standard_B1ms server (PostgreSQL 16, 32 GiB) with Entra authentication only
#     (password authentication disabled), reachable from this machine's public IP,
#   * the signed-in user as the server's Entra administrator,
#   * a database.
# Then prints the environment for the live test. Delete everything with
# scripts/teardown_entra_test_pg.sh.
#
# Overrides (environment): DUROXIDE_PG_ENTRA_PREFIX (default duroxidepg), _LOCATION (eastus),
# _RESOURCE_GROUP (<prefix>-entra-test), _SERVER (<prefix>-entra-<8 hex of the subscription id>,
# globally unique but stable per subscription), _DB (duroxide), _PG_VERSION (16).
set -euo pipefail

command -v az >/dev/null || { echo "provision: the Azure CLI (az) is not installed" >&2; exit 1; }
az account show >/dev/null 2>&1 || { echo "provision: not signed in; run 'az login' first" >&2; exit 1; }

prefix=${DUROXIDE_PG_ENTRA_PREFIX:-duroxidepg}
location=${DUROXIDE_PG_ENTRA_LOCATION:-eastus}
group=${DUROXIDE_PG_ENTRA_RESOURCE_GROUP:-$prefix-entra-test}
subscription=$(az account show --query id -o tsv)
server=${DUROXIDE_PG_ENTRA_SERVER:-$prefix-entra-$(printf '%s' "$subscription" | sha256sum | cut -c1-8)}
db=${DUROXIDE_PG_ENTRA_DB:-duroxide}
version=${DUROXIDE_PG_ENTRA_PG_VERSION:-16}

upn=$(az ad signed-in-user show --query userPrincipalName -o tsv)
oid=$(az ad signed-in-user show --query id -o tsv)
my_ip=$(curl -fsS https://api.ipify.org || true)

echo "provision: resource group $group ($location)" >&2
if [ "$(az group exists -n "$group")" != true ]; then
  az group create -n "$group" -l "$location" -o none
fi

echo "provision: server $server" >&2
if ! az postgres flexible-server show -g "$group" -n "$server" -o none 2>/dev/null; then
  az postgres flexible-server create -g "$group" -n "$server" -l "$location" \
    --tier Burstable --sku-name Standard_B1ms --storage-size 32 --version "$version" \
    --active-directory-auth Enabled --password-auth Disabled \
    --public-access "${my_ip:-None}" --yes -o none
fi

echo "provision: Entra administrator $upn" >&2
if ! az postgres flexible-server ad-admin show -g "$group" -s "$server" -i "$oid" -o none 2>/dev/null; then
  az postgres flexible-server ad-admin create -g "$group" -s "$server" -u "$upn" -i "$oid" -t User -o none
fi

if [ -n "$my_ip" ]; then
  rule="duroxide-test-$(printf '%s' "$my_ip" | tr . -)"
  if ! az postgres flexible-server firewall-rule show -g "$group" -n "$server" -r "$rule" -o none 2>/dev/null; then
    az postgres flexible-server firewall-rule create -g "$group" -n "$server" -r "$rule" \
      --start-ip-address "$my_ip" --end-ip-address "$my_ip" -o none
  fi
fi

echo "provision: database $db" >&2
if ! az postgres flexible-server db show -g "$group" -s "$server" -d "$db" -o none 2>/dev/null; then
  az postgres flexible-server db create -g "$group" -s "$server" -d "$db" -o none
fi

host=$(az postgres flexible-server show -g "$group" -n "$server" --query fullyQualifiedDomainName -o tsv)
cat <<OUT
# Live Entra test environment (the signed-in user is the Entra administrator):
export DUROXIDE_PG_ENTRA_LIVE_TEST=1
export DUROXIDE_PG_ENTRA_TEST_HOST=$host
export DUROXIDE_PG_ENTRA_TEST_DB=$db
export DUROXIDE_PG_ENTRA_TEST_USER=$upn
# then: meson test -C build entra_live --print-errorlogs
OUT
