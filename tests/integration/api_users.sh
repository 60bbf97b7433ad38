#!/usr/bin/env bash
# Users through the API: admins manage them, users manage only themselves.
. "$(dirname "$0")/lib.sh"

start_atriumd "$T/data" || exit 1
ADMIN=$(login_token admin "$ATRIUM_ADMIN_PASSWORD")
TOKEN=$ADMIN

out=$(api POST /api/v1/users -d '{"name":"alice","password":"alice-pass-1"}')
expect_match "an admin adds a user (role user by default)" "$out" '"name":"alice","role":"user"'
code=$(api POST /api/v1/users -d '{"name":"alice","password":"alice-pass-1"}' -o /dev/null -w '%{http_code}')
expect_eq "a duplicate user is 409" "$code" 409
code=$(api POST /api/v1/users -d '{"name":"bob","password":"short"}' -o "$T/out" -w '%{http_code}')
expect_eq "a short password is 400" "$code" 400
expect_match "and says the rule" "$(cat "$T/out")" 'at least 8 characters'
code=$(api POST /api/v1/users -d '{"name":"bob","password":"bob-pass-12","role":"root"}' -o /dev/null -w '%{http_code}')
expect_eq "an unknown role is 400" "$code" 400
out=$(api POST /api/v1/users -d '{"name":"carol","password":"carol-pass-1","role":"admin"}')
expect_match "an admin adds an admin" "$out" '"role":"admin"'
out=$(api GET /api/v1/users)
expect_match "list users" "$out" '"users":\[\{"name":"admin","role":"admin".*\{"name":"alice","role":"user"'
if api GET /api/v1/users | grep -q hash; then not_ok "no hash in the user list"; else ok "no hash in the user list"; fi

ALICE=$(login_token alice alice-pass-1)
TOKEN=$ALICE
code=$(api GET /api/v1/users -o "$T/out" -w '%{http_code}')
expect_eq "a user may not list users" "$code" 403
expect_match "403 says why" "$(cat "$T/out")" "'alice' is not an admin"
code=$(api POST /api/v1/users -d '{"name":"eve","password":"eve-pass-12"}' -o /dev/null -w '%{http_code}')
expect_eq "a user may not add users" "$code" 403
code=$(api PUT /api/v1/users/carol/password -d '{"password":"hijacked-1"}' -o /dev/null -w '%{http_code}')
expect_eq "a user may not change another's password" "$code" 403
code=$(api PUT /api/v1/users/alice/password -d '{"password":"alice-new-pass"}' -o /dev/null -w '%{http_code}')
expect_eq "changing your own password needs the old one" "$code" 400
code=$(api PUT /api/v1/users/alice/password -d '{"password":"alice-new-pass","old_password":"wrong-pass"}' -o /dev/null -w '%{http_code}')
expect_eq "a wrong old password is refused" "$code" 403
code=$(api PUT /api/v1/users/alice/password -d '{"password":"alice-new-pass","old_password":"alice-pass-1"}' -o /dev/null -w '%{http_code}')
expect_eq "a user changes their own password" "$code" 204
code=$(api GET /api/v1/projects -o /dev/null -w '%{http_code}')
expect_eq "the session that changed it stays valid" "$code" 200
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"user":"alice","password":"alice-pass-1"}' "$BASE/api/v1/session")
expect_eq "the old password no longer works" "$code" 401
ALICE2=$(login_token alice alice-new-pass)
expect_match "the new password works" "$ALICE2" '^[0-9a-f]{64}$'

api POST /api/v1/projects -d '{"name":"alices"}' >/dev/null
TOKEN=$ADMIN
api POST /api/v1/projects -d '{"name":"admins"}' >/dev/null
TOKEN=$ALICE2
code=$(api DELETE /api/v1/projects/admins -o /dev/null -w '%{http_code}')
expect_eq "a user may not delete someone else's project" "$code" 403
code=$(api DELETE /api/v1/projects/alices -o /dev/null -w '%{http_code}')
expect_eq "a user may delete a project they created" "$code" 204

TOKEN=$ADMIN
code=$(api PUT /api/v1/users/alice/password -d '{"password":"reset-by-admin"}' -o /dev/null -w '%{http_code}')
expect_eq "an admin resets a password" "$code" 204
TOKEN=$ALICE2
code=$(api GET /api/v1/projects -o /dev/null -w '%{http_code}')
expect_eq "a reset ends the user's other sessions" "$code" 401

TOKEN=$ADMIN
code=$(api DELETE /api/v1/users/alice -o /dev/null -w '%{http_code}')
expect_eq "an admin deletes a user" "$code" 204
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"user":"alice","password":"reset-by-admin"}' "$BASE/api/v1/session")
expect_eq "a deleted user cannot log in" "$code" 401
code=$(api DELETE /api/v1/users/nobody -o /dev/null -w '%{http_code}')
expect_eq "deleting a missing user is 404" "$code" 404
code=$(api DELETE /api/v1/users/carol -o /dev/null -w '%{http_code}')
expect_eq "an admin may be deleted while another remains" "$code" 204
code=$(api DELETE /api/v1/users/admin -o "$T/out" -w '%{http_code}')
expect_eq "the last admin cannot be deleted" "$code" 409
expect_match "and the answer says what to do" "$(cat "$T/out")" 'make another user an admin first'
stop_atriumd
finish
