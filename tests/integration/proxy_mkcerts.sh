#!/bin/sh
# proxy_mkcerts.sh DIR: test PKI for the proxy's TLS tests, made fresh each
# run: ca.pem (CA), server.pem/server.key (SAN DNS:sip.test.example,
# URI:sip:sip.test.example, DNS:localhost, IP:127.0.0.1), server2.* (a second
# server cert for reload tests), client.pem/client.key (client cert),
# wrong.pem/wrong.key (SAN DNS:other.example only), wild.pem/wild.key
# (SAN DNS:*.test.example), other-ca.pem (an unrelated CA).
set -eu
d=$1
mkdir -p "$d"
cd "$d"
ossl() { openssl "$@" >/dev/null 2>&1; }

ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout ca.key -out ca.pem -days 2 -subj "/O=Rampart Test/CN=Rampart Test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=Other CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"

leaf() { # name subject san
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "$2"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$3" > "$1.ext"
	ossl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
		-out "$1.pem" -days 2 -extfile "$1.ext"
	rm -f "$1.csr" "$1.ext"
}
leaf server "/O=Rampart Test/CN=sip.test.example" \
	"DNS:sip.test.example,URI:sip:sip.test.example,DNS:localhost,IP:127.0.0.1"
leaf server2 "/O=Rampart Test/CN=sip2.test.example" \
	"DNS:sip.test.example,DNS:sip2.test.example,DNS:localhost"
leaf client "/O=Rampart Test/CN=client.test.example" \
	"DNS:client.test.example,URI:sip:client.test.example"
leaf wrong "/O=Rampart Test/CN=sip.test.example" "DNS:other.example"
leaf wild "/O=Rampart Test/CN=wild" "DNS:*.test.example"
echo "$d"
