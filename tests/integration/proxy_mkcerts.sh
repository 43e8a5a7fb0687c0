#!/bin/sh
# proxy_mkcerts.sh DIR: test PKI for the proxy's TLS tests, made fresh each
# run: ca.pem (CA), server.pem/server.key (SAN DNS:sip.test.example,
# URI:sip:sip.test.example, DNS:localhost, IP:127.0.0.1), server2.* (a second
# server cert for reload tests), client.pem/client.key (client cert),
# wrong.pem/wrong.key (SAN DNS:other.example only), wild.pem/wild.key
# (SAN DNS:*.test.example), other-ca.pem (an unrelated CA), edge.pem/edge.key
# (SAN DNS:edge.test.example, for SNI), edge2.* (the same name, a new key:
# a renewal), expired.pem/expired.key (SAN DNS:sip.test.example, valid only
# in January 2020), other.pem/other.key (signed by other-ca), inter.pem
# (an intermediate CA under ca.pem) with leaf3.pem/leaf3.key (signed by it,
# SAN DNS:sip.test.example).
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
leaf edge "/O=Rampart Test/CN=edge.test.example" "DNS:edge.test.example"
leaf edge2 "/O=Rampart Test/CN=edge.test.example/OU=renewed" "DNS:edge.test.example"
leaf wild "/O=Rampart Test/CN=wild" "DNS:*.test.example"
# Certificates with chosen dates or issuers: 'openssl ca' takes dates.
printf '[ca]\ndefault_ca=t\n[t]\ndatabase=index.txt\nnew_certs_dir=.\nserial=serial\npolicy=p\ndefault_md=sha256\n[p]\ncommonName=supplied\norganizationName=optional\n' > ca.cnf
: > index.txt
echo 1000 > serial
signed() { # name subject san ca-cert ca-key extra-args...
	n=$1 subj=$2 san=$3 cac=$4 cak=$5
	shift 5
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$n.key" -out "$n.csr" -subj "$subj"
	printf '%s\n' "$san" > "$n.ext"
	ossl ca -batch -config ca.cnf -cert "$cac" -keyfile "$cak" -in "$n.csr" \
		-out "$n.pem" -extfile "$n.ext" -notext "$@"
	rm -f "$n.csr" "$n.ext"
}
signed expired "/O=Rampart Test/CN=expired.test.example" \
	"subjectAltName=DNS:sip.test.example" ca.pem ca.key \
	-startdate 20200101000000Z -enddate 20200102000000Z
signed other "/O=Other/CN=sip.test.example" \
	"subjectAltName=DNS:sip.test.example" other-ca.pem other-ca.key -days 2
signed inter "/O=Rampart Test/CN=Rampart Test Intermediate" \
	"basicConstraints=critical,CA:TRUE
keyUsage=critical,keyCertSign,cRLSign" ca.pem ca.key -days 2
signed leaf3 "/O=Rampart Test/CN=leaf3.test.example" \
	"subjectAltName=DNS:sip.test.example" inter.pem inter.key -days 2
echo "$d"
