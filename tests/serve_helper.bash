# Helpers for the msp-serve suites: a server on a free port, curl around it.

# start_server [msp-serve options...]: sets SERVE_PID, PORT, U
start_server() {
	local out="$BATS_TEST_TMPDIR/serve.out" i
	: > "$out"
	msp-serve -l 127.0.0.1:0 --workers "${SERVE_WORKERS:-0}" \
	    --web "$BATS_TEST_DIRNAME/../web" \
	    --access-log "$BATS_TEST_TMPDIR/access.log" "$@" \
	    > "$out" 2> "$BATS_TEST_TMPDIR/serve.err" 3>&- &
	SERVE_PID=$!
	for i in $(seq 1 200); do
		PORT=$(jq -r 'select(.type == "listening") | .port' "$out" 2>/dev/null)
		[ -n "$PORT" ] && break
		kill -0 "$SERVE_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$PORT" ] || { cat "$BATS_TEST_TMPDIR/serve.err" >&2; return 1; }
	U="http://127.0.0.1:$PORT"
}

# stop_server: SIGTERM, then the exit status must be 0 and the server's
# stderr free of sanitizer reports
stop_server() {
	local st=0
	if [ -n "${SERVE_PID:-}" ]; then
		kill "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null || st=$?
		SERVE_PID=
		if [ "$st" -ne 0 ] || grep -q -e 'Sanitizer' -e 'runtime error' \
		    "$BATS_TEST_TMPDIR/serve.err"; then
			echo "msp-serve exited $st" >&2
			cat "$BATS_TEST_TMPDIR/serve.err" >&2
			return 1
		fi
	fi
}

# req METHOD PATH [curl args...]: sets status (HTTP code) and body
req() {
	local m=$1 p=$2
	shift 2
	body=$(curl -s -o - -w '\n%{http_code}' -X "$m" "$@" "$U$p")
	code=${body##*$'\n'}
	body=${body%$'\n'*}
}

# sign up and log in: login EMAIL -> TOKEN
signup_login() {
	curl -sf -X POST "$U/auth/signup" \
	    -d "{\"email\":\"$1\",\"password\":\"correct horse battery\"}" >/dev/null || return 1
	curl -sf -X POST "$U/auth/login" \
	    -d "{\"email\":\"$1\",\"password\":\"correct horse battery\"}" | jq -r .token
}

# the fake Razorpay API on a free port: sets MSP_RAZORPAY_*
start_fake_razorpay() {
	local fake="$BATS_TEST_DIRNAME/fake-razorpay.py"
	mkdir -p "$BATS_TEST_TMPDIR/fake"
	python3 "$fake" serve --dir "$BATS_TEST_TMPDIR/fake" --key-id rzp_test_K3y \
	    --key-secret sk_test_S3cret --parent "$BASHPID" --idle 300 >/dev/null 2>&1 3>&- &
	FAKE_PID=$!
	for _ in $(seq 200); do [ -f "$BATS_TEST_TMPDIR/fake/port" ] && break; sleep 0.05; done
	export MSP_RAZORPAY_URL="http://127.0.0.1:$(cat "$BATS_TEST_TMPDIR/fake/port")"
	export MSP_RAZORPAY_KEY_ID=rzp_test_K3y MSP_RAZORPAY_KEY_SECRET=sk_test_S3cret
}
