#!/bin/sh
# Stand-in for 7za in the packaging test (7za is downloaded from GitHub, which is not reachable there). electron-
# builder's tar.gz target builds the tar itself (node's tar module) and then runs `7za a <options> <out>.tar.gz
# <in>.tar`, the codec implied by the extension (archive.js tar() and compute7zCompressArgs). This does that last
# step with gzip; any other call is refused loudly.
out=""
last=""
for arg; do
  out="$last"
  last="$arg"
done
if [ "$1" = "a" ] && [ "${out%.gz}" != "$out" ] && [ -f "$last" ]; then
  exec gzip -9 -n -c "$last" >"$out"
fi
echo "sevenza-gzip.sh: unsupported 7za call: $*" >&2
exit 2
