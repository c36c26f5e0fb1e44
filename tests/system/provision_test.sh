#!/usr/bin/env bash
# shellcheck disable=SC2016  # the bash -c snippets expand their own positional args
# Integration test for the fedra-provision command (and enrollment with fedra-site init).
# Usage: provision_test.sh PATH_TO_fedra-provision [PATH_TO_fedra-site]
# Exits non-zero on the first failed check; prints "provision_test: N checks passed".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prov=${1:-$here/../../build/provision/fedra-provision}
site_bin=${2:-$here/../../build/site-agent/fedra-site}
[[ -x $prov ]] || { echo "provision_test: FAIL: $prov is not executable" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf -- "$tmp"' EXIT

checks=0
fail() { echo "provision_test: FAIL: $*" >&2; exit 1; }
ok() { checks=$((checks + 1)); }
# check DESCRIPTION COMMAND...: the command must succeed
check() {
  local what=$1
  shift
  if "$@"; then ok; else fail "$what"; fi
}
# check_fails DESCRIPTION COMMAND...: the command must fail
check_fails() {
  local what=$1
  shift
  if "$@"; then fail "$what"; else ok; fi
}

mode_of() { stat -c '%a' -- "$1"; }
# checksums of every file, plus the mode of every path: a snapshot of the tree
snapshot() {
  (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum && find . -printf '%p %m %y\n' | sort)
}
subject_of() { openssl x509 -in "$1" -noout -subject; }
eku_of() { openssl x509 -in "$1" -noout -ext extendedKeyUsage | tail -n +2 | sed 's/^ *//'; }
san_of() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | sed 's/^ *//'; }
serial_of() { openssl x509 -in "$1" -noout -serial; }
# json_get FILE PATH: print d<PATH> (e.g. '["listen"]["port"]'); json_eval FILE EXPR: print EXPR over d
json_get() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval("d"+sys.argv[2]))' "$1" "$2"; }
json_eval() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
verifies() { openssl verify -CAfile "$1" "$2" >/dev/null 2>&1; }
key_matches_cert() {
  [[ "$(openssl pkey -in "$1" -pubout 2>/dev/null)" == "$(openssl x509 -in "$2" -noout -pubkey 2>/dev/null)" ]]
}
contains() { [[ $1 == *"$2"* ]]; }

F=$tmp/fed1

# ------------------------------------------------------------------ --help / bad flags
help_out=$("$prov" --help)
ok
for flag in --out --federation --master --site --days --help; do
  check "--help mentions $flag" contains "$help_out" "$flag"
done
set +e
"$prov" --out "$tmp/x" --bogus >/dev/null 2>"$tmp/err"
rc=$?
set -e
check "unknown flag exits 2 (got $rc)" test "$rc" -eq 2
check "unknown flag prints usage" grep -q 'Usage:' "$tmp/err"
check "unknown flag creates nothing" test ! -e "$tmp/x"
check_fails "missing --out is rejected" "$prov" --site a 2>/dev/null
check_fails "--days must be a positive integer" "$prov" --out "$tmp/x" --days 0 2>/dev/null
check "bad --days creates nothing" test ! -e "$tmp/x"

# ------------------------------------------------------------------ initial federation
cmd=("$prov" --out "$F" --federation test1 --master m --site a=127.0.0.1:7101 --site b)
out1=$("${cmd[@]}")
ok
check "first run reports created kits" contains "$out1" "created kit $F/site-a"
check "output never contains private key material" bash -c '! grep -q "PRIVATE" <<<"$1"' _ "$out1"

for f in ca/ca.crt ca/ca.key ca/federation; do
  check "$f exists" test -f "$F/$f"
done
check "ca.key is 0600" test "$(mode_of "$F/ca/ca.key")" = 600
check "ca folder is 0700" test "$(mode_of "$F/ca")" = 700
check "federation recorded" test "$(cat "$F/ca/federation")" = test1
check "CA key is EC P-256" bash -c 'openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q "NIST CURVE: P-256"' _ "$F/ca/ca.key"
ca_text=$(openssl x509 -in "$F/ca/ca.crt" -noout -text)
check "CA basicConstraints critical CA:TRUE" bash -c 'grep -A1 "Basic Constraints: critical" <<<"$1" | grep -q "CA:TRUE"' _ "$ca_text"
check "CA keyUsage keyCertSign,cRLSign" bash -c 'grep -A1 "Key Usage: critical" <<<"$1" | grep -q "Certificate Sign, CRL Sign"' _ "$ca_text"
check "CA subject" contains "$(subject_of "$F/ca/ca.crt")" "O = fedra federation test1, CN = fedra CA test1"

for kit in master-m site-a site-b; do
  d=$F/$kit
  role=${kit%%-*}
  name=${kit#*-}
  for f in cert.pem key.pem ca.crt; do
    check "$kit/$f exists" test -f "$d/$f"
  done
  check "$kit folder is 0700" test "$(mode_of "$d")" = 700
  check "$kit/key.pem is 0600" test "$(mode_of "$d/key.pem")" = 600
  check "$kit/ca.crt is the CA cert" cmp -s "$d/ca.crt" "$F/ca/ca.crt"
  check "$kit cert verifies against its ca.crt" verifies "$d/ca.crt" "$d/cert.pem"
  check "$kit key matches cert" key_matches_cert "$d/key.pem" "$d/cert.pem"
  check "$kit key is EC P-256" bash -c 'openssl pkey -in "$1" -noout -text 2>/dev/null | grep -q "NIST CURVE: P-256"' _ "$d/key.pem"
  subj=$(subject_of "$d/cert.pem")
  check "$kit subject has OU = $role ($subj)" contains "$subj" "OU = $role"
  check "$kit subject has CN = $name ($subj)" contains "$subj" "CN = $name"
  check "$kit subject has federation O ($subj)" contains "$subj" "O = fedra federation test1"
  san=$(san_of "$d/cert.pem")
  check "$kit SAN ($san)" test "$san" = "DNS:$name, DNS:localhost, IP Address:127.0.0.1"
  text=$(openssl x509 -in "$d/cert.pem" -noout -text)
  check "$kit is not a CA" contains "$text" "CA:FALSE"
  check "$kit keyUsage critical digitalSignature" bash -c 'grep -A1 "Key Usage: critical" <<<"$1" | grep -qx " *Digital Signature"' _ "$text"
done
check "site EKU is serverAuth only" test "$(eku_of "$F/site-a/cert.pem")" = "TLS Web Server Authentication"
check "site EKU is serverAuth only (b)" test "$(eku_of "$F/site-b/cert.pem")" = "TLS Web Server Authentication"
check "master EKU is clientAuth,serverAuth" test "$(eku_of "$F/master-m/cert.pem")" = "TLS Web Client Authentication, TLS Web Server Authentication"
serials=$(for c in "$F"/*/cert.pem "$F/ca/ca.crt"; do serial_of "$c"; done | sort)
check "serials are unique" test "$(uniq <<<"$serials" | wc -l)" -eq "$(wc -l <<<"$serials")"

# configs
for j in "$F/site-a/site.json" "$F/site-b/site.json" "$F/master-m/federation.json"; do
  check "$j is valid JSON" bash -c 'python3 -m json.tool "$1" >/dev/null' _ "$j"
done
check "site-a name" test "$(json_get "$F/site-a/site.json" '["name"]')" = a
check "site-a port" test "$(json_get "$F/site-a/site.json" '["listen"]["port"]')" = 7101
check "site-a address" test "$(json_get "$F/site-a/site.json" '["listen"]["address"]')" = 127.0.0.1
check "site-b default port" test "$(json_get "$F/site-b/site.json" '["listen"]["port"]')" = 7000
check "site-b tls key path" test "$(json_get "$F/site-b/site.json" '["tls"]["key"]')" = key.pem
check "site-b min_aggregate_rows" test "$(json_get "$F/site-b/site.json" '["limits"]["min_aggregate_rows"]')" = 10
check "site-b datasets empty" test "$(json_get "$F/site-b/site.json" '["datasets"]')" = "{}"
check "site-a admits master m, and only m" test "$(json_get "$F/site-a/site.json" '["allowed_masters"]')" = "['m']"
check "master name" test "$(json_get "$F/master-m/federation.json" '["name"]')" = m
check "master federation" test "$(json_get "$F/master-m/federation.json" '["federation"]')" = test1
check "master lists both sites" test "$(json_eval "$F/master-m/federation.json" '[s["name"] for s in d["sites"]]')" = "['a', 'b']"
check "master site a port" test "$(json_get "$F/master-m/federation.json" '["sites"][0]["port"]')" = 7101
check "master site b port" test "$(json_get "$F/master-m/federation.json" '["sites"][1]["port"]')" = 7000
check "master site b host" test "$(json_get "$F/master-m/federation.json" '["sites"][1]["host"]')" = 127.0.0.1
check "master max_message_bytes" test "$(json_get "$F/master-m/federation.json" '["limits"]["max_message_bytes"]')" = 67108864
check "no temp files left" test -z "$(find "$F" -name '.fedra-provision*' -o -name '*.csr' -o -name '*.cnf')"

# ------------------------------------------------------------------ idempotent re-run
snap1=$(snapshot "$F")
out2=$("${cmd[@]}")
ok
check "re-run changes nothing" test "$snap1" = "$(snapshot "$F")"
for kit in master-m site-a site-b; do
  check "re-run says kept $kit" contains "$out2" "kept existing kit $F/$kit"
done
check "re-run creates nothing" bash -c '! grep -q "^created" <<<"$1"' _ "$out2"

# ------------------------------------------------------------------ add a site later
out3=$("$prov" --out "$F" --site c)
ok
check "adding c reports created" contains "$out3" "created kit $F/site-c"
check "adding c prints master entry" contains "$out3" '{"name": "c", "host": "127.0.0.1", "port": 7000}'
check "site-c exists" test -f "$F/site-c/cert.pem"
check "site-c admits the master whose kit exists" test "$(json_get "$F/site-c/site.json" '["allowed_masters"]')" = "['m']"
snap3_others=$(snapshot "$F" | grep -v -e '\./site-c')
check "adding c leaves every other file unchanged" test "$snap1" = "$snap3_others"
check "site-c verifies against original CA" verifies "$F/ca/ca.crt" "$F/site-c/cert.pem"
check "site-c subject uses recorded federation" contains "$(subject_of "$F/site-c/cert.pem")" "O = fedra federation test1, OU = site, CN = c"
check "site-c key is 0600" test "$(mode_of "$F/site-c/key.pem")" = 600
check "site-c serial differs" bash -c '! grep -qx "$(openssl x509 -in "$1" -noout -serial)" <<<"$2"' _ "$F/site-c/cert.pem" "$serials"

# explicit host is added to the SAN
"$prov" --out "$F" --site h=db.example.org:9443 --site i=10.1.2.3:7000 >/dev/null
ok
check "DNS host in SAN" test "$(san_of "$F/site-h/cert.pem")" = "DNS:h, DNS:localhost, IP Address:127.0.0.1, DNS:db.example.org"
check "IP host in SAN" test "$(san_of "$F/site-i/cert.pem")" = "DNS:i, DNS:localhost, IP Address:127.0.0.1, IP Address:10.1.2.3"
check "site-h address" test "$(json_get "$F/site-h/site.json" '["listen"]["address"]')" = db.example.org
rm -rf -- "$F/site-h" "$F/site-i"

# a site provisioned with no master anywhere admits none, and says so
E=$tmp/fed-nomaster
out_e=$("$prov" --out "$E" --site lonely)
ok
check "a site without masters admits none" test "$(json_get "$E/site-lonely/site.json" '["allowed_masters"]')" = "[]"
check "and the output says what to do" contains "$out_e" 'admits no master yet'

# ------------------------------------------------------------------ a second federation is not trusted
G=$tmp/fed2
"$prov" --out "$G" --federation test2 --master m --site a >/dev/null
ok
check "second federation's cert verifies against its own CA" verifies "$G/ca/ca.crt" "$G/site-a/cert.pem"
check_fails "second federation's site cert does NOT verify against the first CA" verifies "$F/ca/ca.crt" "$G/site-a/cert.pem"
check_fails "second federation's master cert does NOT verify against the first CA" verifies "$F/ca/ca.crt" "$G/master-m/cert.pem"
check_fails "first federation's cert does NOT verify against the second CA" verifies "$G/ca/ca.crt" "$F/site-a/cert.pem"

# ------------------------------------------------------------------ bad names, duplicates
snap_before=$(snapshot "$F")
for args in "--site ../x" "--site A" "--master A" "--master ../x" "--site a/b" "--site -x" "--site c --site c" "--master d --site d" "--site d=127.0.0.1:99999" "--site d=bad_host!:7000"; do
  read -r -a argv <<<"$args"
  set +e
  "$prov" --out "$F" "${argv[@]}" >/dev/null 2>"$tmp/err"
  rc=$?
  set -e
  check "'$args' is rejected (rc=$rc)" test "$rc" -ne 0
  check "'$args' prints an error" grep -q 'error' "$tmp/err"
  check "'$args' changes nothing in an existing federation" test "$snap_before" = "$(snapshot "$F")"
  set +e
  "$prov" --out "$tmp/fresh" "${argv[@]}" >/dev/null 2>&1
  rc=$?
  set -e
  check "'$args' is rejected for a new federation (rc=$rc)" test "$rc" -ne 0
  check "'$args' creates no files for a new federation" test ! -e "$tmp/fresh"
done
check "no site-x or x created" test ! -e "$F/site-..:x" -a ! -e "$tmp/x" -a ! -e "$F/x" -a ! -e "$F/site-A" -a ! -e "$F/master-A"

# ------------------------------------------------------------------ federation mismatch
set +e
"$prov" --out "$F" --federation other --site e >/dev/null 2>"$tmp/err"
rc=$?
set -e
check "--federation mismatch is rejected (rc=$rc)" test "$rc" -ne 0
check "--federation mismatch error is clear" grep -q 'federation mismatch' "$tmp/err"
check "--federation mismatch creates nothing" test ! -e "$F/site-e"
check "--federation mismatch changes nothing" test "$snap_before" = "$(snapshot "$F")"
"$prov" --out "$F" --federation test1 >/dev/null
ok
check "--federation matching the CA is accepted and changes nothing" test "$snap_before" = "$(snapshot "$F")"

# ------------------------------------------------------------------ default federation name
H=$tmp/fed3
"$prov" --out "$H" --site z >/dev/null
ok
check "default federation is fedra" test "$(cat "$H/ca/federation")" = fedra
check "default federation in subject" contains "$(subject_of "$H/site-z/cert.pem")" "O = fedra federation fedra"
check "default --days is 825" bash -c '
  nb=$(date -d "$(openssl x509 -in "$1" -noout -startdate | cut -d= -f2)" +%s)
  na=$(date -d "$(openssl x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s)
  test $(( (na - nb) / 86400 )) -eq 825' _ "$H/site-z/cert.pem"

# ------------------------------------------------------------------ enrollment: the key stays at the site
if [[ -x $site_bin ]]; then
  E=$tmp/enroll
  "$site_bin" init --dir "$E" --name late --federation fedra >/dev/null
  ok
  check "init key is mode 600" test "$(mode_of "$E/key.pem")" = 600
  check "init writes a request" openssl req -in "$E/request.csr" -noout -verify
  check_fails "init never overwrites the key" "$site_bin" init --dir "$E" --name late --federation fedra
  "$prov" sign --out "$H" --request "$E/request.csr" --site-address 10.1.2.3:7100 >/dev/null
  ok
  check "the signed kit has no key" test ! -e "$H/site-late/key.pem"
  check "the signed cert verifies against the CA" verifies "$H/ca/ca.crt" "$H/site-late/cert.pem"
  check "the signed cert matches the site's key" key_matches_cert "$E/key.pem" "$H/site-late/cert.pem"
  check "the signed cert is a site's" contains "$(subject_of "$H/site-late/cert.pem")" "OU = site, CN = late"
  check "the signed cert names its address" contains "$(san_of "$H/site-late/cert.pem")" "IP Address:10.1.2.3"
  check "the signed kit listens where asked" test "$(json_get "$H/site-late/site.json" '["listen"]["port"]')" = 7100
  # The health check: healthy once the key is in the kit, and says why not before.
  check_fails "check fails without the key" "$site_bin" check --config "$H/site-late/site.json"
  cp "$E/key.pem" "$H/site-late/key.pem"
  check "check passes on the complete kit" "$site_bin" check --config "$H/site-late/site.json"
  check "check says healthy" bash -c '"$1" check --config "$2" | grep -qx healthy' _ "$site_bin" "$H/site-late/site.json"
  check "check names the compute it has" bash -c '"$1" check --config "$2" | grep -q "^compute: OpenBLAS.s .* kernels; GPU: "' \
    _ "$site_bin" "$H/site-late/site.json"
  # OpenBLAS falls back to old kernels where a virtual machine hides the processor's model: the
  # check says so, and how to fix it, where the processor has AVX2 (without failing).
  if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
    check "check warns of OpenBLAS's old kernels" bash -c \
      'OPENBLAS_CORETYPE=Prescott "$1" check --config "$2" | grep -q "^warning: OpenBLAS runs its Prescott kernels.*OPENBLAS_CORETYPE=Haswell"' \
      _ "$site_bin" "$H/site-late/site.json"
  fi
  chmod 0644 "$H/site-late/key.pem"
  check_fails "check refuses a key others may read" "$site_bin" check --config "$H/site-late/site.json"
  chmod 0600 "$H/site-late/key.pem"
  printf 'a,b\n1,2\n' >"$H/site-late/t.csv"
  python3 - "$H/site-late/site.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["datasets"] = {"t": {"path": "t.csv", "privacy": "public"}, "gone": {"path": "gone.csv", "privacy": "public"}}
json.dump(c, open(sys.argv[1], "w"))
PY
  check_fails "check fails on a dataset it cannot read" "$site_bin" check --config "$H/site-late/site.json"
  check "check names the dataset and the problem" bash -c \
    '"$1" check --config "$2" | grep -q "dataset .gone.: cannot be read"' _ "$site_bin" "$H/site-late/site.json"
  "$site_bin" init --dir "$tmp/other" --name late2 --federation elsewhere >/dev/null
  set +e
  "$prov" sign --out "$H" --request "$tmp/other/request.csr" >/dev/null 2>"$tmp/err"
  rc=$?
  set -e
  check "a request for another federation is refused (rc=$rc)" test "$rc" -eq 1
  check "the refusal names the federation" grep -q 'elsewhere' "$tmp/err"
  check "a refused request creates no kit" test ! -e "$H/site-late2"
fi

echo "provision_test: $checks checks passed"
