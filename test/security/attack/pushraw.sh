#!/bin/bash
# pushraw.sh HOSTPORT REPO LAYOUTDIR MANIFESTDIGEST(hex)  -> uploads config+layers (monolithic POST/PUT); manifest not pushed
H=$1; R=$2; L=$3; M=$4
for d in $(jq -r '.config.digest, .layers[].digest' $L/blobs/sha256/$M); do
  f=$L/blobs/sha256/${d#sha256:}
  loc=$(curl -s -D - -o /dev/null -X POST "http://$H/v2/$R/blobs/uploads/" | tr -d '\r' | awk -F': ' 'tolower($1)=="location"{print $2}')
  case "$loc" in http*) ;; *) loc="http://$H$loc";; esac
  sep='?'; [[ "$loc" == *\?* ]] && sep='&'
  curl -s -o /dev/null -w "blob $d %{http_code}\n" -X PUT "$loc${sep}digest=$d" -H 'Content-Type: application/octet-stream' --data-binary @$f
done
