#!/usr/bin/env bash
# A CDS client for trying the CDS Hooks service: an RSA key pair in DIR (emr.key signs,
# emr.pem is what Zhiku checks with) and the configuration lines that register it.
#
#   bash deploy/cds/make-test-client.sh DIR [ISS]
#
# Add the printed lines to your configuration (zhiku --config FILE …), restart the server,
# then sign a token per call with deploy/cds/sign-jwt.sh. A real EMR keeps its own private key
# and gives you its public key (or a jwks_url) instead.
set -euo pipefail
dir=${1:?usage: make-test-client.sh DIR [ISS]}
iss=${2:-https://emr.example.test}
mkdir -p "$dir"
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$dir/emr.key" 2>/dev/null
openssl pkey -in "$dir/emr.key" -pubout -out "$dir/emr.pem"
pem=$(cd "$dir" && pwd)/emr.pem
cat <<TOML
[[clinical.cds_clients]]
iss = "$iss"
public_key = "$pem"
clearance = "internal"
TOML
