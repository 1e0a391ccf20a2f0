#!/usr/bin/env bash
# A CDS client's token for one call (RS384, valid 5 minutes, a fresh jti: a token is good once).
#
#   bash deploy/cds/sign-jwt.sh KEY ISS AUD
#
# KEY: the client's private RSA key (PEM). ISS: its `iss`, as in clinical.cds_clients.
# AUD: the URL of the service called, e.g. http://127.0.0.1:8080/cds-services/zhiku-order-select
# (the discovery URL …/cds-services is accepted too); its base is clinical.public_url when set,
# else the scheme and Host the request is sent to.
set -euo pipefail
key=${1:?usage: sign-jwt.sh KEY ISS AUD}
iss=${2:?usage: sign-jwt.sh KEY ISS AUD}
aud=${3:?usage: sign-jwt.sh KEY ISS AUD}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
jti=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || openssl rand -hex 16)
header=$(printf '{"alg":"RS384","typ":"JWT"}' | b64url)
claims=$(printf '{"iss":"%s","aud":"%s","iat":%d,"exp":%d,"jti":"%s"}' \
  "$iss" "$aud" "$now" "$((now + 300))" "$jti" | b64url)
signature=$(printf '%s.%s' "$header" "$claims" | openssl dgst -sha384 -sign "$key" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$claims" "$signature"
