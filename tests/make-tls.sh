#!/bin/sh
# Make throw-away TLS material for the tests in $1:
#   ca.pem / ca-key.pem           a test CA
#   server.pem / server-key.pem   a certificate for 127.0.0.1 and localhost, signed by the test CA
#   untrusted.pem / untrusted-key.pem  a self-signed certificate no one trusts
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=purple-amm test CA" \
  -keyout ca-key.pem -out "$tmp/ca.pem" >/dev/null 2>&1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' > "$tmp/ext"
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout server-key.pem -out "$tmp/server.csr" >/dev/null 2>&1
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey ca-key.pem -CAcreateserial \
  -CAserial "$tmp/ca.srl" -days 3650 -extfile "$tmp/ext" -out server.pem >/dev/null 2>&1
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=localhost" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout untrusted-key.pem -out untrusted.pem >/dev/null 2>&1
mv "$tmp/ca.pem" ca.pem
echo "made test TLS material in $dir"
