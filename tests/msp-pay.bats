#!/usr/bin/env bats
# msp-pay: orders, confirmation, webhooks and subscriptions against a fake
# Razorpay (tests/fake-razorpay.py) on loopback.

load helper

FAKE="$BATS_TEST_DIRNAME/fake-razorpay.py"
KEY_ID=rzp_test_K3yId0001
KEY_SECRET=sk_test_S3cretValue_9f8e7d
HOOK_SECRET=wh_test_H00kSecret_1a2b3c

ms() { date -u -d "$1" +%s%3N; }

setup() {
	setup_store
	U=ann@example.com
	FAKE_DIR="$BATS_TEST_TMPDIR/fake"
	mkdir -p "$FAKE_DIR"
	python3 "$FAKE" serve --dir "$FAKE_DIR" --key-id "$KEY_ID" \
	    --key-secret "$KEY_SECRET" --parent "$BASHPID" --idle 60 \
	    --sleep 2 >/dev/null 2>&1 3>&- &
	FAKE_PID=$!
	for _ in $(seq 100); do [ -f "$FAKE_DIR/port" ] && break; sleep 0.05; done
	[ -f "$FAKE_DIR/port" ]
	export MSP_RAZORPAY_URL="http://127.0.0.1:$(cat "$FAKE_DIR/port")"
	export MSP_RAZORPAY_KEY_ID=$KEY_ID
	export MSP_RAZORPAY_KEY_SECRET=$KEY_SECRET
	export MSP_RAZORPAY_WEBHOOK_SECRET=$HOOK_SECRET
	export MSP_RAZORPAY_TIMEOUT_MS=400
	export MSP_RAZORPAY_RETRIES=2
	export MSP_NOW_MS=$(ms 2026-01-31T10:00:00Z)
	msp-catalog user add "$U" >/dev/null
}

teardown() {
	kill "$FAKE_PID" 2>/dev/null || true
	wait "$FAKE_PID" 2>/dev/null || true
}

mode() { printf '%s\n' "$@" > "$FAKE_DIR/mode"; }
sign() { python3 "$FAKE" sign "$@"; }

# order USER MONTHS: sets ORDER (Razorpay's id)
order() {
	run -0 msp-pay order --user "$1" --months "$2"
	ORDER=$(jq -r .razorpayOrderId <<<"$output")
	[[ $ORDER == order_* ]]
}

# pay [JSON fields]: the customer pays ORDER; sets PAY and SIG
pay() {
	local extra=${1:-}
	PAY=$(curl -sf -X POST "$MSP_RAZORPAY_URL/_test/payments" \
	    -d "{\"order_id\":\"$ORDER\"$extra}" | jq -r .id)
	[[ $PAY == pay_* ]]
	SIG=$(sign "$KEY_SECRET" "$ORDER|$PAY")
}

buy() { # buy USER MONTHS: order, pay and confirm
	order "$1" "$2"
	pay
	run -0 msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
}

end_of() { msp-pay status "$1" | jq -r .end; }

# hook EVENT-ID FILE: deliver a signed webhook body
hook() {
	run --separate-stderr bash -c 'msp-pay webhook --event-id "$1" --signature "$2" < "$3"' \
	    _ "$1" "$(sign "$HOOK_SECRET" < "$2")" "$2"
}

captured_body() { # captured_body FILE [AMOUNT]
	local amount=${2:-$(msp-pay list | jq -r "select(.razorpayOrderId==\"$ORDER\") | .amount")}
	printf '{"entity":"event","account_id":"acc_Test0001","event":"payment.captured","contains":["payment"],"payload":{"payment":{"entity":{"id":"%s","entity":"payment","amount":%s,"currency":"INR","status":"captured","order_id":"%s","method":"card","captured":true}}},"created_at":1769853600}' \
	    "$PAY" "$amount" "$ORDER" > "$1"
}

refund_body() { # refund_body FILE REFUND-ID AMOUNT
	printf '{"entity":"event","account_id":"acc_Test0001","event":"refund.processed","contains":["refund","payment"],"payload":{"refund":{"entity":{"id":"%s","entity":"refund","amount":%s,"currency":"INR","payment_id":"%s","status":"processed"}},"payment":{"entity":{"id":"%s","entity":"payment","status":"refunded","order_id":"%s"}}},"created_at":1769853600}' \
	    "$2" "$3" "$PAY" "$PAY" "$ORDER" > "$1"
}

no_secrets() { # no secret may appear in what a run printed
	[[ $output != *"$KEY_SECRET"* && $output != *"$HOOK_SECRET"* ]]
	[[ ${stderr:-} != *"$KEY_SECRET"* && ${stderr:-} != *"$HOOK_SECRET"* ]]
}

@test "order prints what Checkout needs and records the order" {
	run -0 msp-pay order --user Ann@Example.com --months 3
	[ "$(jq -r .type <<<"$output")" = order ]
	[ "$(jq -r .keyId <<<"$output")" = "$KEY_ID" ]
	[ "$(jq -r .amount <<<"$output")" = 28900 ]
	[ "$(jq -r .currency <<<"$output")" = INR ]
	[ "$(jq -r .status <<<"$output")" = created ]
	[ "$(jq -r .user <<<"$output")" = "$U" ]
	[[ $(jq -r .razorpayOrderId <<<"$output") == order_* ]]
	id=$(jq -r .id <<<"$output")
	grep -qx "POST /v1/orders receipt=$id" "$FAKE_DIR/log"
	no_secrets
	run -0 msp-pay list --user "$U"
	[ "$(jq -r .id <<<"$output")" = "$id" ]
}

@test "the four plans: 1, 3, 6 and 12 calendar months for 99, 289, 569, 899 INR" {
	for plan in 1:9900:2026-02-28 3:28900:2026-04-30 6:56900:2026-07-31 12:89900:2027-01-31; do
		IFS=: read -r m amount day <<<"$plan"
		u="m$m@example.com"
		msp-catalog user add "$u" >/dev/null
		order "$u" "$m"
		[ "$(jq -r .amount <<<"$output")" = "$amount" ]
		pay
		run -0 msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
		[ "$(jq -r .start <<<"$output")" = 2026-01-31T10:00:00.000Z ]
		[ "$(jq -r .end <<<"$output")" = "${day}T10:00:00.000Z" ]
		[ "$(jq -r .active <<<"$output")" = true ]
		[ "$(jq -r .subscriptionEndTimestamp <<<"$output")" = "$(ms "${day}T10:00:00Z")" ]
		run -0 msp-pay status "$u"
		[ "$(jq -r .active <<<"$output")" = true ]
	done
	run -0 msp-pay list
	[ "${#lines[@]}" -eq 4 ]
	[ "$(jq -r .status <<<"$output" | sort -u)" = paid ]
}

@test "an active subscription is extended from its end; an expired one starts now" {
	buy "$U" 1
	[ "$(end_of "$U")" = 2026-02-28T10:00:00.000Z ]
	export MSP_NOW_MS=$(ms 2026-02-10T00:00:00Z)
	buy "$U" 3
	[ "$(jq -r .start <<<"$output")" = 2026-01-31T10:00:00.000Z ]
	[ "$(jq -r .end <<<"$output")" = 2026-05-28T10:00:00.000Z ]
	export MSP_NOW_MS=$(ms 2026-07-01T08:00:00Z)
	run -1 msp-pay status "$U"
	[ "$(jq -r .active <<<"$output")" = false ]
	buy "$U" 1
	[ "$(jq -r .start <<<"$output")" = 2026-07-01T08:00:00.000Z ]
	[ "$(jq -r .end <<<"$output")" = 2026-08-01T08:00:00.000Z ]
}

@test "status: a user without a subscription is not active (exit 1)" {
	run -1 msp-pay status "$U"
	[ "$(jq -r .active <<<"$output")" = false ]
	[ "$(jq -r .user <<<"$output")" = "$U" ]
}

@test "wrong signature: refused, store unchanged" {
	order "$U" 1
	pay
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" \
	    --signature "$(printf '%064d' 7)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: signature does not match order $ORDER and this payment" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature nothex
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: signature is not 64 hex digits" ]
	assert_store_unchanged "$before"
	# made with the wrong key (the webhook secret)
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" \
	    --signature "$(sign "$HOOK_SECRET" "$ORDER|$PAY")"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: signature does not match order $ORDER and this payment" ]
	assert_store_unchanged "$before"
	run -1 grep -q "GET /v1/payments" "$FAKE_DIR/log"
}

@test "a signature made for a different order or payment is refused" {
	order "$U" 1
	pay
	O1=$ORDER P1=$PAY S1=$SIG
	order "$U" 3
	pay
	O2=$ORDER P2=$PAY S2=$SIG
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$O1" --payment "$P1" --signature "$S2"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $P1: signature does not match order $O1 and this payment" ]
	run --separate-stderr msp-pay confirm --order "$O1" --payment "$P2" --signature "$S1"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $P2: signature does not match order $O1 and this payment" ]
	run --separate-stderr msp-pay confirm --order "$O2" --payment "$P2" \
	    --signature "$(sign "$KEY_SECRET" "$O1|$P2")"
	[ "$status" -eq 1 ]
	assert_store_unchanged "$before"
	run -1 msp-pay status "$U"
}

@test "a replayed payment changes nothing and says so (exit 0)" {
	buy "$U" 3
	first=$output
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 0 ]
	[ "$stderr" = "msp-pay: $PAY: already confirmed; nothing changed" ]
	[ "$(jq -r .end <<<"$output")" = "$(jq -r .end <<<"$first")" ]
	assert_store_unchanged "$before"
	[ "$(grep -c "GET /v1/payments/$PAY" "$FAKE_DIR/log")" -eq 1 ]
}

@test "amount mismatch from the gateway: refused, store unchanged" {
	order "$U" 1
	pay ',"amount":100'
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: the gateway says 100 INR paise were paid, order $ORDER is for 9900 INR paise" ]
	assert_store_unchanged "$before"
	pay ',"currency":"USD"'
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: the gateway says 9900 USD paise were paid, order $ORDER is for 9900 INR paise" ]
	assert_store_unchanged "$before"
}

@test "order mismatch from the gateway: refused, store unchanged" {
	order "$U" 1
	O1=$ORDER
	order "$U" 1
	O2=$ORDER
	ORDER=$O2
	pay
	# signed for O1 (as if Checkout had said so) but the gateway says O2
	SIG=$(sign "$KEY_SECRET" "$O1|$PAY")
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$O1" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $PAY: the gateway says it belongs to order $O2, not $O1" ]
	assert_store_unchanged "$before"
}

@test "an unpaid payment grants nothing" {
	order "$U" 6
	for st in authorized failed created; do
		pay ",\"status\":\"$st\""
		before=$(store_sum)
		run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
		[ "$status" -eq 1 ]
		[ "$stderr" = "msp-pay: $PAY: payment is $st, not captured" ]
		assert_store_unchanged "$before"
	done
	run -1 msp-pay status "$U"
}

@test "a payment the gateway does not know, an order msp does not know" {
	order "$U" 1
	before=$(store_sum)
	P=pay_NoSuchPayment01
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$P" \
	    --signature "$(sign "$KEY_SECRET" "$ORDER|$P")"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: razorpay: GET /v1/payments/$P: The id provided does not exist" ]
	O=order_NoSuchOrder001
	run --separate-stderr msp-pay confirm --order "$O" --payment "$P" \
	    --signature "$(sign "$KEY_SECRET" "$O|$P")"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $O: unknown order" ]
	run --separate-stderr msp-pay confirm --order 'order;rm' --payment "$P" --signature "$(printf '%064d' 0)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: 'order;rm': not a razorpay order id" ]
	assert_store_unchanged "$before"
}

@test "confirm --user: the order must be that user's" {
	msp-catalog user add bob@example.com >/dev/null
	order "$U" 1
	pay
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --user bob@example.com --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $ORDER: order of another user" ]
	assert_store_unchanged "$before"
	run -0 msp-pay confirm --user "$U" --order "$ORDER" --payment "$PAY" --signature "$SIG"
}

@test "webhook payment.captured grants; confirm afterwards is a replay" {
	order "$U" 3
	pay
	captured_body "$BATS_TEST_TMPDIR/b.json"
	hook evt_Captured0001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	[ "$(jq -r .outcome <<<"$output")" = granted ]
	[ "$(jq -r .type <<<"$output")" = event ]
	[ "$(end_of "$U")" = 2026-04-30T10:00:00.000Z ]
	before=$(store_sum)
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 0 ]
	[ "$stderr" = "msp-pay: $PAY: already confirmed; nothing changed" ]
	assert_store_unchanged "$before"
	# order.paid for the same payment, another event id: already granted
	sed 's/"payment.captured"/"order.paid"/' "$BATS_TEST_TMPDIR/b.json" > "$BATS_TEST_TMPDIR/p.json"
	hook evt_OrderPaid0001 "$BATS_TEST_TMPDIR/p.json"
	[ "$status" -eq 0 ]
	[ "$(jq -r .outcome <<<"$output")" = "already granted" ]
	[ "$(end_of "$U")" = 2026-04-30T10:00:00.000Z ]
}

@test "webhook with a bad signature: refused, store unchanged" {
	order "$U" 1
	pay
	captured_body "$BATS_TEST_TMPDIR/b.json"
	before=$(store_sum)
	run --separate-stderr bash -c 'msp-pay webhook --event-id evt_1 --signature "$1" < "$2"' \
	    _ "$(sign "$KEY_SECRET" < "$BATS_TEST_TMPDIR/b.json")" "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: webhook: signature does not match the body" ]
	# a signed body changed by one byte
	sig=$(sign "$HOOK_SECRET" < "$BATS_TEST_TMPDIR/b.json")
	sed 's/9900/9901/' "$BATS_TEST_TMPDIR/b.json" > "$BATS_TEST_TMPDIR/t.json"
	run --separate-stderr bash -c 'msp-pay webhook --signature "$1" < "$2"' _ "$sig" "$BATS_TEST_TMPDIR/t.json"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: webhook: signature does not match the body" ]
	no_secrets
	assert_store_unchanged "$before"
	run -1 msp-pay status "$U"
}

@test "a duplicated webhook event changes nothing and says so" {
	order "$U" 1
	pay
	captured_body "$BATS_TEST_TMPDIR/b.json"
	hook evt_Dup000000001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	before=$(store_sum)
	hook evt_Dup000000001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	[ "$stderr" = "msp-pay: evt_Dup000000001: event already handled; nothing changed" ]
	[ "$(jq -r .outcome <<<"$output")" = granted ]
	assert_store_unchanged "$before"
	[ "$(end_of "$U")" = 2026-02-28T10:00:00.000Z ]
	# without an event id, the same bytes are the same event
	run -0 bash -c 'msp-pay webhook --signature "$1" < "$2"' _ "$(sign "$HOOK_SECRET" < "$BATS_TEST_TMPDIR/b.json")" "$BATS_TEST_TMPDIR/b.json"
	before=$(store_sum)
	run --separate-stderr bash -c 'msp-pay webhook --signature "$1" < "$2"' _ "$(sign "$HOOK_SECRET" < "$BATS_TEST_TMPDIR/b.json")" "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	[[ $stderr == "msp-pay: sha256:"*": event already handled; nothing changed" ]]
	assert_store_unchanged "$before"
}

@test "webhook: amount mismatch refused; unknown orders and other events ignored" {
	order "$U" 1
	pay
	captured_body "$BATS_TEST_TMPDIR/b.json" 100
	before=$(store_sum)
	hook evt_Mismatch0001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: webhook: $PAY: 100 INR paise were paid, order $ORDER is for 9900 INR paise" ]
	assert_store_unchanged "$before"
	printf '{"event":"payment.captured","payload":{}}' > "$BATS_TEST_TMPDIR/x.json"
	hook evt_NoEntity0001 "$BATS_TEST_TMPDIR/x.json"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: webhook: field 'payload.payment.entity': required" ]
	printf 'not json' > "$BATS_TEST_TMPDIR/x.json"
	hook evt_NotJson00001 "$BATS_TEST_TMPDIR/x.json"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: webhook: body is not a JSON object" ]
	assert_store_unchanged "$before"
	ORDER=order_SomeoneElse01
	captured_body "$BATS_TEST_TMPDIR/b.json" 100
	hook evt_Unknown00001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	[ "$(jq -r .outcome <<<"$output")" = "ignored: unknown order order_SomeoneElse01" ]
	printf '{"event":"payment.failed","payload":{}}' > "$BATS_TEST_TMPDIR/x.json"
	hook evt_Failed000001 "$BATS_TEST_TMPDIR/x.json"
	[ "$status" -eq 0 ]
	[ "$(jq -r .outcome <<<"$output")" = ignored ]
	run -1 msp-pay status "$U"
}

@test "refund: a full refund ends the subscription, a partial one shortens it" {
	buy "$U" 1
	refund_body "$BATS_TEST_TMPDIR/r.json" rfnd_Full00000001 9900
	hook evt_Refund000001 "$BATS_TEST_TMPDIR/r.json"
	[ "$status" -eq 0 ]
	[ "$(jq -r .outcome <<<"$output")" = "refunded: subscription ended" ]
	run -1 msp-pay status "$U"
	[ "$(jq -r .end <<<"$output")" = 2026-01-31T10:00:00.000Z ]
	[ "$(msp-pay list | jq -r .status)" = refunded ]
	# the same refund again, under another event id: applied once
	before=$(store_sum)
	hook evt_Refund000002 "$BATS_TEST_TMPDIR/r.json"
	[ "$(jq -r .outcome <<<"$output")" = "refund already applied" ]

	msp-catalog user add bob@example.com >/dev/null
	buy bob@example.com 12
	# half of 12 months (365 days) back: 182.5 days off the end
	refund_body "$BATS_TEST_TMPDIR/r.json" rfnd_Half00000001 44950
	hook evt_Refund000003 "$BATS_TEST_TMPDIR/r.json"
	[ "$(jq -r .outcome <<<"$output")" = "refunded: subscription shortened" ]
	run -0 msp-pay status bob@example.com
	[ "$(jq -r .end <<<"$output")" = 2026-08-01T22:00:00.000Z ]
}

@test "gateway 500s: order stays pending, a re-run reuses its receipt" {
	mode 500
	before=$(store_sum)
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: POST /v1/orders: HTTP 500: The server encountered an error. The incident has been reported to admins. (3 attempts)" ]
	[ "$(grep -c 'POST /v1/orders' "$FAKE_DIR/log")" -eq 3 ]
	run -0 msp-pay list
	[ "$(jq -r .status <<<"$output")" = pending ]
	id=$(jq -r .id <<<"$output")
	pending=$(store_sum)
	run -3 msp-pay order --user "$U" --months 1
	assert_store_unchanged "$pending"
	mode ok
	run -0 msp-pay order --user "$U" --months 1
	[ "$(jq -r .id <<<"$output")" = "$id" ]
	[ "$(jq -r .status <<<"$output")" = created ]
	[ "$(grep -c "receipt=$id" "$FAKE_DIR/log")" -eq 7 ]
	run -0 msp-pay list
	[ "${#lines[@]}" -eq 1 ]
}

@test "gateway 500 then success: a bounded retry gets through" {
	order "$U" 1
	pay
	mode 500 500 ok
	run -0 msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$(grep -c "GET /v1/payments/$PAY" "$FAKE_DIR/log")" -eq 3 ]
}

@test "gateway 500s, timeouts and malformed answers on confirm: store unchanged, safe to re-run" {
	order "$U" 1
	pay
	before=$(store_sum)
	mode 500
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: GET /v1/payments/$PAY: HTTP 500: The server encountered an error. The incident has been reported to admins. (3 attempts)" ]
	assert_store_unchanged "$before"
	mode timeout
	run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: GET /v1/payments/$PAY: no answer within 400 ms (3 attempts)" ]
	assert_store_unchanged "$before"
	for m in malformed truncated empty; do
		mode "$m"
		run --separate-stderr msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
		[ "$status" -eq 3 ]
		[ "$stderr" = "msp-pay: razorpay: GET /v1/payments/$PAY: malformed answer (not a JSON object)" ] ||
		[ "$stderr" = "msp-pay: razorpay: GET /v1/payments/$PAY: malformed answer (empty)" ]
		assert_store_unchanged "$before"
	done
	mode drop
	run -3 msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	assert_store_unchanged "$before"
	[ "$(msp-pay list | jq -r .status)" = created ]
	mode ok
	run -0 msp-pay confirm --order "$ORDER" --payment "$PAY" --signature "$SIG"
	[ "$(jq -r .end <<<"$output")" = 2026-02-28T10:00:00.000Z ]
}

@test "gateway timeouts and malformed answers on order" {
	mode timeout
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: POST /v1/orders: no answer within 400 ms (3 attempts)" ]
	mode malformed
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: POST /v1/orders: malformed answer (not a JSON object)" ]
	run -0 msp-pay list
	[ "$(jq -r .status <<<"$output")" = pending ]
	[ "${#lines[@]}" -eq 1 ]
}

@test "wrong key secret: the gateway refuses and no secret is printed" {
	export MSP_RAZORPAY_KEY_SECRET=sk_test_WrongSecret_000
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 3 ]
	[ "$stderr" = "msp-pay: razorpay: POST /v1/orders: HTTP 401: Authentication failed (check the key id and key secret)" ]
	[[ $stderr != *WrongSecret* ]]
	no_secrets
}

@test "unknown plan: refused, store unchanged" {
	before=$(store_sum)
	run --separate-stderr msp-pay order --user "$U" --months 5
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: 5 months: no such plan (plans: 1, 3, 6, 12 months)" ]
	assert_store_unchanged "$before"
	run --separate-stderr msp-pay order --user "$U" --months 0
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-pay: --months: expected a number of months from 1 to 120"* ]]
	[ ! -f "$FAKE_DIR/log" ]
}

@test "unknown user: refused, store unchanged" {
	before=$(store_sum)
	run --separate-stderr msp-pay order --user nobody@example.com --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: nobody@example.com: no such user" ]
	run --separate-stderr msp-pay status nobody@example.com
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: nobody@example.com: no such user" ]
	assert_store_unchanged "$before"
	[ ! -f "$FAKE_DIR/log" ]
}

@test "a plans file sets the plans; a bad one is refused" {
	printf '{"months":2,"amount":15000}\n{"months":24,"amount":150000,"currency":"INR"}\n' > "$BATS_TEST_TMPDIR/plans.jsonl"
	run -0 msp-pay plans --plans "$BATS_TEST_TMPDIR/plans.jsonl"
	[ "${#lines[@]}" -eq 2 ]
	[ "$(jq -r .type <<<"${lines[0]}")" = plan ]
	run -0 msp-pay order --plans "$BATS_TEST_TMPDIR/plans.jsonl" --user "$U" --months 2
	[ "$(jq -r .amount <<<"$output")" = 15000 ]
	before=$(store_sum)
	run --separate-stderr msp-pay order --plans "$BATS_TEST_TMPDIR/plans.jsonl" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: 1 months: no such plan (plans: 2, 24 months)" ]
	printf '{"months":2,"amount":15000}\n{"months":3}\n' > "$BATS_TEST_TMPDIR/bad.jsonl"
	run --separate-stderr msp-pay order --plans "$BATS_TEST_TMPDIR/bad.jsonl" --user "$U" --months 2
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $BATS_TEST_TMPDIR/bad.jsonl:2: field 'amount': required" ]
	printf '{"months":2,"amount":15000}\n{"months":2,"amount":100}\n' > "$BATS_TEST_TMPDIR/bad.jsonl"
	run --separate-stderr msp-pay plans --plans "$BATS_TEST_TMPDIR/bad.jsonl"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $BATS_TEST_TMPDIR/bad.jsonl:2: a plan for 2 months is already listed" ]
	assert_store_unchanged "$before"
	run -0 msp-pay plans
	[ "$(jq -r .amount <<<"$output" | tr '\n' ' ')" = "9900 28900 56900 89900 " ]
}

@test "a config file readable by others is refused; a private one is used" {
	unset MSP_RAZORPAY_KEY_ID MSP_RAZORPAY_KEY_SECRET
	conf="$BATS_TEST_TMPDIR/pay.conf"
	printf '# msp-pay settings\nkey_id = %s\nkey_secret = %s\n' "$KEY_ID" "$KEY_SECRET" > "$conf"
	chmod 644 "$conf"
	before=$(store_sum)
	run --separate-stderr msp-pay order --config "$conf" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $conf: refused: group or others may access it (mode 0644); chmod 600 it" ]
	chmod 640 "$conf"
	run --separate-stderr msp-pay order --config "$conf" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $conf: refused: group or others may access it (mode 0640); chmod 600 it" ]
	# the default place: the store's pay.conf
	cp "$conf" "$MSP_STORE/pay.conf"
	chmod 604 "$MSP_STORE/pay.conf"
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $MSP_STORE/pay.conf: refused: group or others may access it (mode 0604); chmod 600 it" ]
	no_secrets
	assert_store_unchanged "$before"
	chmod 600 "$MSP_STORE/pay.conf"
	run -0 msp-pay order --user "$U" --months 1
	chmod 600 "$conf"
	run -0 msp-pay order --config "$conf" --user "$U" --months 3
	[ "$(jq -r .keyId <<<"$output")" = "$KEY_ID" ]
	no_secrets
}

@test "config file mistakes name the line, never the value" {
	conf="$BATS_TEST_TMPDIR/pay.conf"
	printf 'key_id = x\n%s\n' "$KEY_SECRET" > "$conf"
	chmod 600 "$conf"
	run --separate-stderr msp-pay order --config "$conf" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $conf:2: expected 'name = value'" ]
	printf 'key_secrt = %s\n' "$KEY_SECRET" > "$conf"
	run --separate-stderr msp-pay order --config "$conf" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $conf:1: unknown setting 'key_secrt'" ]
	no_secrets
	run --separate-stderr msp-pay order --config "$BATS_TEST_TMPDIR/none.conf" --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: $BATS_TEST_TMPDIR/none.conf: No such file or directory" ]
}

@test "missing keys and unsafe gateway URLs are refused before any change" {
	before=$(store_sum)
	unset MSP_RAZORPAY_KEY_SECRET
	run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: MSP_RAZORPAY_KEY_SECRET is not set (environment or config file)" ]
	export MSP_RAZORPAY_KEY_SECRET=$KEY_SECRET
	unset MSP_RAZORPAY_WEBHOOK_SECRET
	run --separate-stderr bash -c 'echo {} | msp-pay webhook --signature "$1"' _ "$(printf '%064d' 0)"
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: MSP_RAZORPAY_WEBHOOK_SECRET is not set (environment or config file)" ]
	MSP_RAZORPAY_URL=http://api.example.com run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: razorpay url: must be https (plain http only to 127.0.0.1, ::1 or localhost)" ]
	MSP_RAZORPAY_URL="http://$KEY_ID:x@127.0.0.1:1" run --separate-stderr msp-pay order --user "$U" --months 1
	[ "$status" -eq 1 ]
	[ "$stderr" = "msp-pay: razorpay url: must not hold credentials or a query" ]
	assert_store_unchanged "$before"
}

@test "usage errors exit 2" {
	run -2 msp-pay
	run -2 msp-pay order --user "$U"
	run -2 msp-pay status
	run -2 msp-pay frobnicate
	run --separate-stderr msp-pay status "$U" --months 3
	[ "$status" -eq 2 ]
	[[ $stderr == "msp-pay: status: --months does not apply"* ]]
}

@test "export and import round-trip subscriptions, orders, payments and events; check is clean" {
	buy "$U" 3
	order "$U" 1
	captured_body "$BATS_TEST_TMPDIR/b.json" 100
	ORDER=order_SomeoneElse01
	captured_body "$BATS_TEST_TMPDIR/b.json" 100
	hook evt_Other0000001 "$BATS_TEST_TMPDIR/b.json"
	msp-catalog export > "$BATS_TEST_TMPDIR/dump.jsonl"
	for k in subscription order payment event; do
		grep -q "\"type\":\"$k\"" "$BATS_TEST_TMPDIR/dump.jsonl"
	done
	run -0 msp-catalog check
	MSP_STORE="$BATS_TEST_TMPDIR/copy" run -0 msp-catalog import "$BATS_TEST_TMPDIR/dump.jsonl"
	MSP_STORE="$BATS_TEST_TMPDIR/copy" run -0 msp-catalog export
	[ "$output" = "$(cat "$BATS_TEST_TMPDIR/dump.jsonl")" ]
	MSP_STORE="$BATS_TEST_TMPDIR/copy" run -0 msp-catalog check
	MSP_STORE="$BATS_TEST_TMPDIR/copy" run -0 msp-pay status "$U"
	MSP_STORE="$BATS_TEST_TMPDIR/copy" run -0 msp-pay list --user "$U"
	[ "${#lines[@]}" -eq 2 ]
	# a replay against the imported store is still a replay
	export MSP_STORE="$BATS_TEST_TMPDIR/copy"
	hook evt_Other0000001 "$BATS_TEST_TMPDIR/b.json"
	[ "$status" -eq 0 ]
	[[ $stderr == *"event already handled; nothing changed" ]]
}

@test "stdout to /dev/full exits 3; a closed pipe is quiet" {
	buy "$U" 1
	run bash -c 'msp-pay status "$1" > /dev/full' _ "$U"
	[ "$status" -eq 3 ]
	[[ $output == "msp-pay: stdout: "* ]]
	run bash -c 'msp-pay list | head -0'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}
