#!/bin/bash
# SlideRule Provisioner: the EC2 user data of one TEST or RELEASE job.
# Constant text, but for two data sections: the job's environment file
# (package plan's Env: every value validated and single-quoted, so that
# sourcing it only sets variables) and the job script (the operator's
# plan, gzip+base64). The machine ends itself: at the job's hard deadline
# at the latest (shutdown -h +N), else once the log and result are in S3.
set -u
umask 077
export HOME=/root LANG=C.UTF-8
J=__JOB_DIR__
if ! mkdir -p -- "$J" || ! chmod 700 -- "$J"; then shutdown -h now; exit 1; fi
# @data sections@ (runner_userdata.go writes $J/job.env and $J/job.sh here)
# After them: what the machine does around the job.
# The job's values, as data; check what arithmetic will see.
. "$J/job.env" || { shutdown -h now; exit 1; }
[[ $DEADLINE =~ ^[0-9]{1,12}$ && $KILL_GRACE =~ ^[0-9]{1,5}$ && $DEADLINE_GRACE =~ ^[0-9]{1,5}$ &&
	$S3_UPLOAD_INTERVAL =~ ^[1-9][0-9]{0,4}$ && $UPLOAD_GRACE =~ ^[0-9]{1,5}$ ]] || { shutdown -h now; exit 1; }
# The hard deadline, whatever happens below: the job script's own deadline
# and grace periods, and time for the upload.
js_min=$(((DEADLINE + 2 * KILL_GRACE + DEADLINE_GRACE + UPLOAD_GRACE - $(date +%s) + 59) / 60))
[ "$js_min" -ge 1 ] || js_min=1
shutdown -h "+$js_min"
for js_v in $EXTRA_VARS; do
	[[ $js_v =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "${js_v?}"
done
export WORK_DIR RESULT_FILE LOG_FILE
if ! mkdir -p -- "$WORK_DIR" || ! touch -- "$LOG_FILE"; then shutdown -h now; exit 1; fi
cat >"$J/on-exit.sh" <<'SLIDERULE_ON_EXIT'
# on-exit.sh J: upload the job's reports, log and result; end the machine.
set -u
J=$1
exec 9>>"$J/upload.lock"
flock -w 150 9 || echo "on-exit: the periodic upload holds the lock; uploading anyway" >&2
: >"$J/final"
up() {
	local i
	for i in 1 2 3 4 5; do
		timeout 120 aws s3 cp --only-show-errors "$@" && return 0
		sleep $((i * 3))
	done
	echo "on-exit: could not upload $*" >&2
	return 1
}
if [ -d "$WORK_DIR/junit" ]; then up --recursive "$WORK_DIR/junit" "$S3_JOB_URI/junit"; fi
up --content-type 'text/plain; charset=utf-8' "$LOG_FILE" "$S3_LOG_URI"
if [ -f "$RESULT_FILE" ]; then up --content-type application/json "$RESULT_FILE" "$S3_JOB_URI/result.json"; fi
shutdown -h now
SLIDERULE_ON_EXIT

# While the job runs, its log and result go to S3 now and then, so that
# they can be followed.
js_uploader() {
	while sleep "$S3_UPLOAD_INTERVAL"; do
		(
			flock -n 9 || exit 0
			[ ! -e "$J/final" ] || exit 0
			timeout 60 aws s3 cp --only-show-errors --content-type 'text/plain; charset=utf-8' "$LOG_FILE" "$S3_LOG_URI"
			[ ! -f "$RESULT_FILE" ] || timeout 60 aws s3 cp --only-show-errors --content-type application/json "$RESULT_FILE" "$S3_JOB_URI/result.json"
		) 9>>"$J/upload.lock"
		[ ! -e "$J/final" ] || return 0
	done
}
js_uploader </dev/null >>"$J/uploader.log" 2>&1 &

# The operator's job secrets (SECRETS_URI: an S3 object of NAME=VALUE
# lines, read with this machine's role) become the job's SECRETS_FILE, mode
# 0600 (umask 077), in the job script's format: JS_SECRETS and each value
# single-quoted. Values never reach the user data or the log.
if [ -n "${SECRETS_URI:-}" ] && [ -n "${SECRETS_FILE:-}" ]; then
	js_raw=$J/secrets.raw
	for js_i in 1 2 3 4 5; do
		timeout 60 aws s3 cp --only-show-errors "$SECRETS_URI" "$js_raw" && break
		rm -f -- "$js_raw"
		sleep $((js_i * 3))
	done
	if [ -f "$js_raw" ]; then
		js_names=
		js_body=
		while IFS= read -r js_l || [ -n "$js_l" ]; do
			js_l=${js_l%$'\r'}
			[[ $js_l =~ ^[[:space:]]*(#|$) ]] && continue
			js_n=${js_l%%=*}
			[[ $js_l == *=* && $js_n =~ ^[A-Z_][A-Z0-9_]*$ ]] || continue
			js_v=${js_l#*=}
			js_names+="${js_names:+ }$js_n"
			js_body+="$js_n='${js_v//\'/\'\\\'\'}'"$'\n'
		done <"$js_raw"
		printf "JS_SECRETS='%s'\n%s" "$js_names" "$js_body" >"$SECRETS_FILE"
		rm -f -- "$js_raw"
		unset js_l js_n js_v js_body
	else
		echo "could not read the job secrets from $SECRETS_URI" >>"$LOG_FILE"
	fi
fi

# The operator's host setup (packages, tools, registry login), bounded by
# the job's deadline; the job runs even if it fails, and says what broke.
{
	printf '%s ==> host setup\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	js_left=$((DEADLINE - $(date +%s)))
	[ "$js_left" -gt 0 ] || js_left=1
	timeout -k 10 "$js_left" bash --noprofile --norc -eo pipefail -c "${HOST_SETUP:-:}" </dev/null
	js_rc=$?
	printf '%s <== host setup: exit status %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$js_rc"
} >>"$LOG_FILE" 2>&1

# The job, leading a session of its own; it runs ON_EXIT when it is done.
setsid -w bash --noprofile --norc "$J/job.sh" "$J/job.env" </dev/null >>"$LOG_FILE" 2>&1
[ -z "${SECRETS_FILE:-}" ] || rm -f -- "$SECRETS_FILE"
[ -e "$J/final" ] || bash --noprofile --norc "$J/on-exit.sh" "$J" </dev/null >>"$LOG_FILE" 2>&1
shutdown -h now
