#!/bin/sh
# Start Redis with the ACL users of users.acl (beside this script), each password's SHA-256 filled
# in from the environment: REDIS_APP_PASSWORD and REDIS_ADMIN_PASSWORD, at least 16 characters
# each (ElastiCache's minimum). The ACL file written (REDIS_ACL_FILE, default /tmp/users.acl)
# holds only hashes. Arguments go to redis-server. POSIX sh: runs in the redis:7.4-bookworm image (dash) and
# natively (the tests run it against the machine's redis-server).
set -eu
here=$(dirname "$0")
template=${REDIS_ACL_TEMPLATE:-$here/users.acl}
aclfile=${REDIS_ACL_FILE:-/tmp/users.acl}

check() {
    if [ "${#2}" -lt 16 ]; then
        echo "redis: $1 must be set to at least 16 characters (see .env.example)" >&2
        exit 2
    fi
}
check REDIS_APP_PASSWORD "${REDIS_APP_PASSWORD:-}"
check REDIS_ADMIN_PASSWORD "${REDIS_ADMIN_PASSWORD:-}"

sha256() {
    printf '%s' "$1" | sha256sum | cut -d ' ' -f 1
}
app=$(sha256 "$REDIS_APP_PASSWORD")
admin=$(sha256 "$REDIS_ADMIN_PASSWORD")

umask 077
grep -v -e '^#' -e '^[[:space:]]*$' "$template" \
    | sed -e "s/@APP_PASSWORD_SHA256@/$app/" -e "s/@ADMIN_PASSWORD_SHA256@/$admin/" >"$aclfile"
exec redis-server --aclfile "$aclfile" "$@"
