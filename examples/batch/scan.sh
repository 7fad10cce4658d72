#!/bin/sh
# One point of a toy resonance scan: the Breit-Wigner weight of a mass point,
# integrated numerically. Arguments: MASS WIDTH. Prints one result line.
mass=$1
width=$2
awk -v m="$mass" -v w="$width" 'BEGIN {
  s = 0; n = 20000
  for (i = 0; i < n; i++) {
    x = 80 + 60 * i / n
    s += (w * w / 4) / ((x - m) ^ 2 + w * w / 4) * 60 / n
  }
  printf "mass=%s width=%s integral=%.6f\n", m, w, s
}'
