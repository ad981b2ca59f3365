#!/bin/sh
# Log every membership change to syslog: one line per member on stdin,
# NAME<TAB>ADDRESS<TAB>ROLE<TAB>TAGS.
while IFS="$(printf '\t')" read -r name addr role tags; do
  logger -t serf-membership "$SERF_EVENT $name $addr role=$role tags=$tags"
done
