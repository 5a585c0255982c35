#!/usr/bin/env bash
# tests/support/tls_certs.sh DIR — a throwaway TLS setup for tests, written into DIR:
#   ca.pem ca.key                 this deployment's CA
#   server.pem server.key         a server (vsd, coordinator): 127.0.0.1 and localhost
#   worker.pem worker.key         a client certificate (a batch worker), signed by the CA
#   rogue-ca.pem rogue.pem rogue.key   another CA, and a client certificate it signed
# Keys are EC P-256 (fast) and mode 0600. The server certificate names 127.0.0.1 both as an
# IP address and as a DNS name: mbedTLS 2.28 (Debian 12's, used by nng) matches the name it
# is given only against DNS names. Needs openssl.
set -euo pipefail
dir=${1:?usage: tls_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
umask 077

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ca() { # name subject
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}

leaf() { # name ca cn extensions
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$3" -out "$1.csr"
  printf '%s\n' "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days 2 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "vs test CA"
ca rogue-ca "another CA"
leaf server ca 127.0.0.1 "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
leaf worker ca "vs-worker" "extendedKeyUsage=clientAuth"
leaf rogue rogue-ca "vs-worker" "extendedKeyUsage=clientAuth"
chmod 0644 ./*.pem
chmod 0600 ./*.key
