#!/bin/bash
# build.sh LAYER.tar OUTDIR TAG: the adm-zip lab image with its second layer replaced by LAYER.tar (gzip)
set -e
T=$1; O=$2; TAG=$3; W=$(mktemp -d); SRC=/work/lab-images/adm-zip; rm -rf $O; cp -r $SRC $O; B=$O/blobs/sha256
M=$(jq -r '.manifests[0].digest' $SRC/index.json | cut -d: -f2)
gzip -n ${GZLEVEL:--6} -c $T > $W/l.gz; LD=$(sha256sum $W/l.gz|cut -d' ' -f1); cp $W/l.gz $B/$LD; DIFF=$(sha256sum $T|cut -d' ' -f1)
C=$(jq -r '.config.digest' $B/$M | cut -d: -f2)
jq -c --arg d sha256:$DIFF '.rootfs.diff_ids[1]=$d' $B/$C > $W/c.json; CD=$(sha256sum $W/c.json|cut -d' ' -f1); cp $W/c.json $B/$CD
jq -c --arg c sha256:$CD --argjson cs $(stat -c %s $W/c.json) --arg d sha256:$LD --argjson s $(stat -c %s $W/l.gz) '.config.digest=$c|.config.size=$cs|.layers[1].digest=$d | .layers[1].size=$s' $B/$M > $W/m.json
NM=$(sha256sum $W/m.json|cut -d' ' -f1); cp $W/m.json $B/$NM
jq -n --arg d sha256:$NM --argjson s $(stat -c %s $W/m.json) --arg t $TAG '{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$d,size:$s,annotations:{"org.opencontainers.image.ref.name":$t}}]}' > $O/index.json
echo $NM
