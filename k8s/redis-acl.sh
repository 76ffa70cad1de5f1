#!/bin/sh
# Starts redis-server with Attaché's ACL users; extra arguments go to redis-server.
#
#   default   disabled: no anonymous access
#   compiler  reads and writes the snapshot keys (attache:*), runs the commit script, which
#             publishes on the channel attache:nudge
#   fanout    reads the snapshot keys only; every write is refused
#
# Passwords come from the environment (ATTACHE_REDIS_COMPILER_PASSWORD,
# ATTACHE_REDIS_FANOUT_PASSWORD; no spaces); the ACL file is written with mode 600 to
# ATTACHE_REDIS_ACL_FILE (default /tmp/attache-users.acl). Change `~attache:*` when the tiers run
# with another --redis-prefix.
set -eu
: "${ATTACHE_REDIS_COMPILER_PASSWORD:?set ATTACHE_REDIS_COMPILER_PASSWORD}"
: "${ATTACHE_REDIS_FANOUT_PASSWORD:?set ATTACHE_REDIS_FANOUT_PASSWORD}"
acl="${ATTACHE_REDIS_ACL_FILE:-/tmp/attache-users.acl}"
umask 077
cat > "$acl" <<ACL
user default off
user compiler on >${ATTACHE_REDIS_COMPILER_PASSWORD} ~attache:* resetchannels &attache:* -@all +@read +@write +@keyspace +@scripting +@transaction +@connection -@dangerous +info +client|setname +publish
user fanout on >${ATTACHE_REDIS_FANOUT_PASSWORD} ~attache:* resetchannels -@all +@read +@connection -@dangerous +info +client|setname
ACL
exec redis-server --aclfile "$acl" "$@"
