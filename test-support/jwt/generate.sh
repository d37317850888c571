#!/bin/sh
# Regenerates the test-only JWT signing keys (never used outside tests): two RSA 2048 keys for
# RS256 and two ECDSA P-256 keys for ES256 (two of each, so tests can rotate), PKCS#8 PEM, plus
# the public half of rsa-1 (what an attacker would use as an HS256 secret).
# Run from this folder: sh generate.sh
set -eu
for n in 1 2; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "rsa-$n.pem"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "ec-$n.pem"
done
openssl pkey -in rsa-1.pem -pubout -out rsa-1.pub.pem
